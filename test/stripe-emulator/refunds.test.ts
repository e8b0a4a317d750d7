import Stripe from 'stripe';
import { WEBHOOK_SECRET, emulatorSuite, newCheckoutId, rejectionOf } from './support';

describe('Stripe emulator: refunds and disputes', () => {
  const suite = emulatorSuite({ webhookReceiver: true });

  const paidIntent = (checkoutId = newCheckoutId()) =>
    suite.emulator.stripe.paymentIntents.create({
      amount: 5000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      confirm: true,
      metadata: { checkoutId },
    });

  const chargeOf = async (intent: Stripe.PaymentIntent) => suite.emulator.stripe.charges.retrieve(intent.latest_charge as string);

  it('a refund without an amount refunds what remains', async () => {
    const intent = await paidIntent();

    const refund = await suite.emulator.stripe.refunds.create({ payment_intent: intent.id, reason: 'requested_by_customer', metadata: { orderId: 'o-1' } });

    expect(refund).toMatchObject({ object: 'refund', amount: 5000, status: 'succeeded', payment_intent: intent.id, reason: 'requested_by_customer', metadata: { orderId: 'o-1' } });
    expect(refund.id).toMatch(/^re_/);
    expect(await chargeOf(intent)).toMatchObject({ amount_refunded: 5000, refunded: true });
    expect(await suite.emulator.stripe.refunds.retrieve(refund.id)).toMatchObject({ id: refund.id, amount: 5000 });
  });

  it('partial refunds add up to the charge, and one more is refused as already refunded', async () => {
    const intent = await paidIntent();

    await suite.emulator.stripe.refunds.create({ payment_intent: intent.id, amount: 1500 });
    expect(await chargeOf(intent)).toMatchObject({ amount_refunded: 1500, refunded: false });
    const rest = await suite.emulator.stripe.refunds.create({ payment_intent: intent.id });
    expect(rest.amount).toBe(3500);

    const error = await rejectionOf(suite.emulator.stripe.refunds.create({ payment_intent: intent.id, amount: 1 }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.code).toBe('charge_already_refunded');
    const listed = await suite.emulator.stripe.refunds.list({ payment_intent: intent.id });
    expect(listed.data.map((r) => r.amount)).toEqual([3500, 1500]);
  });

  it('a refund larger than what remains is refused', async () => {
    const intent = await paidIntent();
    await suite.emulator.stripe.refunds.create({ payment_intent: intent.id, amount: 4000 });

    const error = await rejectionOf(suite.emulator.stripe.refunds.create({ payment_intent: intent.id, amount: 1001 }));

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ code: 'amount_too_large', param: 'amount' });
    expect(error.message).toBe('Refund amount ($10.01) is greater than unrefunded amount on charge ($10.00)');
    expect(await chargeOf(intent)).toMatchObject({ amount_refunded: 4000 });
  });

  it('an intent that never succeeded cannot be refunded', async () => {
    const intent = await suite.emulator.stripe.paymentIntents.create({ amount: 5000, currency: 'usd', automatic_payment_methods: { enabled: true, allow_redirects: 'never' } });

    const error = await rejectionOf(suite.emulator.stripe.refunds.create({ payment_intent: intent.id }));

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.message).toMatch(/does not have a successful charge to refund/);
  });

  it('a refund retried with the same key refunds once', async () => {
    const intent = await paidIntent();
    const idempotencyKey = `refund-${intent.id}`;

    const first = await suite.emulator.stripe.refunds.create({ payment_intent: intent.id, amount: 1000 }, { idempotencyKey });
    const again = await suite.emulator.stripe.refunds.create({ payment_intent: intent.id, amount: 1000 }, { idempotencyKey });

    expect(again.id).toBe(first.id);
    expect(await chargeOf(intent)).toMatchObject({ amount_refunded: 1000 });
  });

  it('a refund made in the dashboard updates the charge and sends a signed charge.refunded', async () => {
    const intent = await paidIntent();

    const { status } = await suite.emulator.post(`/_emulator/charges/${intent.latest_charge as string}/refund-externally`, { amount: 2000 });

    expect(status).toBe(201);
    const delivered = await suite.receiver.waitFor((w) => w.event.type === 'charge.refunded' && (w.event.data.object as Stripe.Charge).payment_intent === intent.id);
    const event = suite.emulator.stripe.webhooks.constructEvent(delivered.rawBody, delivered.headers['stripe-signature'] as string, WEBHOOK_SECRET);
    expect(event.data.object).toMatchObject({ id: intent.latest_charge, amount_refunded: 2000, refunded: false });
    expect(event.request).toEqual({ id: null, idempotency_key: null });
    expect(await chargeOf(intent)).toMatchObject({ amount_refunded: 2000 });
  });

  it('a dispute sends charge.dispute.created and the disputed charge can no longer be refunded', async () => {
    const checkoutId = newCheckoutId();
    const intent = await paidIntent(checkoutId);

    const { status, body } = await suite.emulator.post<{ dispute: Stripe.Dispute }>(`/_emulator/charges/${intent.latest_charge as string}/dispute`, { reason: 'fraudulent' });

    expect(status).toBe(201);
    expect(body.dispute).toMatchObject({ object: 'dispute', charge: intent.latest_charge, payment_intent: intent.id, amount: 5000, reason: 'fraudulent' });
    const delivered = await suite.receiver.waitFor((w) => w.event.type === 'charge.dispute.created' && (w.event.data.object as Stripe.Dispute).id === body.dispute.id);
    expect(() => suite.emulator.stripe.webhooks.constructEvent(delivered.rawBody, delivered.headers['stripe-signature'] as string, WEBHOOK_SECRET)).not.toThrow();
    const error = await rejectionOf(suite.emulator.stripe.refunds.create({ payment_intent: intent.id }));
    expect(error.code).toBe('charge_disputed');
  });
});
