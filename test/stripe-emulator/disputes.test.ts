import Stripe from 'stripe';
import { WEBHOOK_SECRET, emulatorSuite, newCheckoutId, rejectionOf } from './support';

interface EmulatorEvents {
  events: Array<{ event: Stripe.Event }>;
}

interface DisputeAnswer {
  dispute: Stripe.Dispute;
  charge: Stripe.Charge;
}

const DISPUTE_FEE = 1500;

describe('Stripe emulator: disputes', () => {
  const suite = emulatorSuite({ webhookReceiver: true });

  const paidIntent = (extra: Partial<Stripe.PaymentIntentCreateParams> = {}) =>
    suite.emulator.stripe.paymentIntents.create({
      amount: 8000,
      currency: 'eur',
      payment_method: 'pm_card_visa',
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      confirm: true,
      metadata: { checkoutId: newCheckoutId() },
      ...extra,
    });

  const openDispute = async (chargeOrIntent: string, body: { reason?: string; amount?: number } = {}) => {
    const { status, body: answer } = await suite.emulator.post<DisputeAnswer>(`/_emulator/charges/${chargeOrIntent}/dispute`, body);
    expect(status).toBe(201);
    return answer.dispute;
  };

  const disputeEvents = async (intentId: string) =>
    (await suite.emulator.get<EmulatorEvents>(`/_emulator/events?payment_intent=${intentId}`)).events
      .map((r) => r.event)
      .filter((e) => e.type.startsWith('charge.dispute.'));

  const delivered = async (type: string, disputeId: string) => {
    const webhook = await suite.receiver.waitFor((w) => w.event.type === type && (w.event.data.object as Stripe.Dispute).id === disputeId);
    return suite.emulator.stripe.webhooks.constructEvent(webhook.rawBody, webhook.headers['stripe-signature'] as string, WEBHOOK_SECRET);
  };

  it('an opened dispute takes the money back at once: needs_response, an evidence deadline, funds withdrawn with the dispute fee', async () => {
    const intent = await paidIntent();

    const dispute = await openDispute(intent.latest_charge as string, { reason: 'product_not_received' });

    expect(dispute).toMatchObject({
      object: 'dispute',
      amount: 8000,
      currency: 'eur',
      charge: intent.latest_charge,
      payment_intent: intent.id,
      reason: 'product_not_received',
      status: 'needs_response',
      is_charge_refundable: false,
      evidence_details: { has_evidence: false, past_due: false, submission_count: 0 },
    });
    expect(dispute.evidence_details.due_by).toBe(dispute.created + 21 * 24 * 3600);
    expect(dispute.balance_transactions).toEqual([
      expect.objectContaining({ object: 'balance_transaction', amount: -8000, fee: DISPUTE_FEE, net: -8000 - DISPUTE_FEE, type: 'adjustment', reporting_category: 'dispute', source: dispute.id }),
    ]);
    expect(await suite.emulator.stripe.charges.retrieve(intent.latest_charge as string)).toMatchObject({ disputed: true, amount_refunded: 0, refunded: false });
    expect((await disputeEvents(intent.id)).map((e) => e.type)).toEqual(['charge.dispute.created', 'charge.dispute.funds_withdrawn']);
    const withdrawn = await delivered('charge.dispute.funds_withdrawn', dispute.id);
    expect(withdrawn.data.object).toMatchObject({ status: 'needs_response', balance_transactions: [expect.objectContaining({ amount: -8000 })] });
  });

  it('a dispute won after evidence gives the money back and the charge can be refunded again', async () => {
    const intent = await paidIntent();
    const dispute = await openDispute(intent.id);

    const evidence = await suite.emulator.post<{ dispute: Stripe.Dispute }>(`/_emulator/disputes/${dispute.id}/evidence`);
    const refusedWhileOpen = await rejectionOf(suite.emulator.stripe.refunds.create({ payment_intent: intent.id, amount: 1000 }));
    const closed = await suite.emulator.post<DisputeAnswer>(`/_emulator/disputes/${dispute.id}/close`, { outcome: 'won' });

    expect(evidence.status).toBe(200);
    expect(evidence.body.dispute).toMatchObject({ status: 'under_review', evidence_details: { has_evidence: true, submission_count: 1 } });
    expect(refusedWhileOpen.code).toBe('charge_disputed');
    expect(closed.status).toBe(200);
    expect(closed.body.dispute.status).toBe('won');
    expect(closed.body.dispute.balance_transactions.map((t) => [t.amount, t.fee, t.reporting_category])).toEqual([
      [-8000, DISPUTE_FEE, 'dispute'],
      [8000, 0, 'dispute_reversal'],
    ]);
    expect((await disputeEvents(intent.id)).map((e) => [e.type, (e.data.object as Stripe.Dispute).status])).toEqual([
      ['charge.dispute.created', 'needs_response'],
      ['charge.dispute.funds_withdrawn', 'needs_response'],
      ['charge.dispute.updated', 'under_review'],
      ['charge.dispute.closed', 'won'],
      ['charge.dispute.funds_reinstated', 'won'],
    ]);
    expect((await delivered('charge.dispute.closed', dispute.id)).data.object).toMatchObject({ status: 'won' });
    const refund = await suite.emulator.stripe.refunds.create({ payment_intent: intent.id, amount: 1000 });
    expect(refund.amount).toBe(1000);
  });

  it('a dispute lost is money returned to the buyer: nothing reinstated, the charge stays disputed and cannot be refunded', async () => {
    const intent = await paidIntent();
    const dispute = await openDispute(intent.latest_charge as string, { reason: 'fraudulent' });

    const closed = await suite.emulator.post<DisputeAnswer>(`/_emulator/disputes/${dispute.id}/close`, { outcome: 'lost' });

    expect(closed.status).toBe(200);
    expect(closed.body.dispute).toMatchObject({ status: 'lost', amount: 8000 });
    expect(closed.body.dispute.balance_transactions.map((t) => t.amount)).toEqual([-8000]);
    expect(closed.body.charge).toMatchObject({ disputed: true, amount_refunded: 0, refunded: false });
    expect((await disputeEvents(intent.id)).map((e) => e.type)).toEqual(['charge.dispute.created', 'charge.dispute.funds_withdrawn', 'charge.dispute.closed']);
    const refund = await rejectionOf(suite.emulator.stripe.refunds.create({ payment_intent: intent.id, amount: 100 }));
    expect(refund).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(refund.code).toBe('charge_disputed');
    const again = await suite.emulator.post(`/_emulator/disputes/${dispute.id}/close`, { outcome: 'won' });
    expect(again.status).toBe(409);
  });

  it('a dispute can cover part of the charge, and it is read back through the API by id, charge or payment intent', async () => {
    const intent = await paidIntent();
    const dispute = await openDispute(intent.latest_charge as string, { reason: 'duplicate', amount: 2500 });

    const retrieved = await suite.emulator.stripe.disputes.retrieve(dispute.id);
    const byCharge = await suite.emulator.stripe.disputes.list({ charge: intent.latest_charge as string });
    const byIntent = await suite.emulator.stripe.disputes.list({ payment_intent: intent.id });

    expect(retrieved).toMatchObject({ id: dispute.id, amount: 2500, reason: 'duplicate', status: 'needs_response' });
    expect(byCharge.data.map((d) => d.id)).toEqual([dispute.id]);
    expect(byIntent.data.map((d) => d.id)).toEqual([dispute.id]);
    const missing = await rejectionOf(suite.emulator.stripe.disputes.retrieve('dp_missing'));
    expect(missing).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });

  it('only money that was taken can be disputed: an authorization not captured, or a dispute beyond the charge, is refused', async () => {
    const authorized = await paidIntent({ capture_method: 'manual' });
    const paid = await paidIntent();

    const onAuthorization = await suite.emulator.post(`/_emulator/charges/${authorized.latest_charge as string}/dispute`, {});
    const tooLarge = await suite.emulator.post(`/_emulator/charges/${paid.latest_charge as string}/dispute`, { amount: 8001 });

    expect(onAuthorization.status).toBe(409);
    expect(tooLarge.status).toBe(409);
    expect(await suite.emulator.stripe.disputes.list({ payment_intent: authorized.id })).toMatchObject({ data: [] });
    expect(await suite.emulator.stripe.disputes.list({ payment_intent: paid.id })).toMatchObject({ data: [] });
  });
});
