import Stripe from 'stripe';
import { WEBHOOK_SECRET, emulatorSuite, newCheckoutId, rejectionOf, startEmulator, startWebhookReceiver } from './support';

interface EmulatorEvents {
  events: Array<{ event: Stripe.Event }>;
}

const SEVEN_DAYS = 7 * 24 * 3600;

describe('Stripe emulator: separate authorization and capture (capture_method=manual)', () => {
  const suite = emulatorSuite({ webhookReceiver: true });

  const authorize = (checkoutId = newCheckoutId(), extra: Partial<Stripe.PaymentIntentCreateParams> = {}) =>
    suite.emulator.stripe.paymentIntents.create({
      amount: 5000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      capture_method: 'manual',
      confirm: true,
      metadata: { checkoutId },
      ...extra,
    });

  const chargeOf = (intent: Stripe.PaymentIntent) => suite.emulator.stripe.charges.retrieve(intent.latest_charge as string);

  /** What Stripe sent about an intent, in the order it happened (recorded at once, whatever the deliveries do). */
  const eventTypes = async (intentId: string) =>
    (await suite.emulator.get<EmulatorEvents>(`/_emulator/events?payment_intent=${intentId}`)).events.map((r) => r.event.type);

  const delivered = async (type: string, objectId: string) => {
    const webhook = await suite.receiver.waitFor((w) => w.event.type === type && (w.event.data.object as { id: string }).id === objectId);
    return suite.emulator.stripe.webhooks.constructEvent(webhook.rawBody, webhook.headers['stripe-signature'] as string, WEBHOOK_SECRET);
  };

  it('a card confirmed with manual capture is authorized, not charged: requires_capture with the whole amount capturable', async () => {
    const checkoutId = newCheckoutId();

    const intent = await authorize(checkoutId);

    expect(intent).toMatchObject({ status: 'requires_capture', capture_method: 'manual', amount: 5000, amount_capturable: 5000, amount_received: 0 });
    const charge = await chargeOf(intent);
    expect(charge).toMatchObject({ status: 'succeeded', paid: true, captured: false, amount: 5000, amount_captured: 0, amount_refunded: 0, balance_transaction: null });
    expect(charge.payment_method_details?.card?.capture_before).toBe(intent.created + SEVEN_DAYS);
    expect(await eventTypes(intent.id)).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.amount_capturable_updated']);
    const event = await delivered('payment_intent.amount_capturable_updated', intent.id);
    expect(event.data.object).toMatchObject({ status: 'requires_capture', amount_capturable: 5000, amount_received: 0 });
    const state = await suite.emulator.state(checkoutId);
    expect(state.successfulCharges).toEqual({ [intent.id]: 1 });
    expect(state.capturedCharges).toEqual({ [intent.id]: 0 });
  });

  it('capturing takes the authorized amount once, even when the capture is retried with its key', async () => {
    const checkoutId = newCheckoutId();
    const intent = await authorize(checkoutId);
    const idempotencyKey = `checkout-${checkoutId}:capture`;

    const captured = await suite.emulator.stripe.paymentIntents.capture(intent.id, {}, { idempotencyKey });
    const again = await suite.emulator.stripe.paymentIntents.capture(intent.id, {}, { idempotencyKey });

    expect(captured).toMatchObject({ status: 'succeeded', amount_received: 5000, amount_capturable: 0 });
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(await chargeOf(intent)).toMatchObject({ captured: true, amount_captured: 5000, amount_refunded: 0, refunded: false, balance_transaction: expect.stringMatching(/^txn_/) });
    expect(await eventTypes(intent.id)).toEqual([
      'payment_intent.created',
      'charge.succeeded',
      'payment_intent.amount_capturable_updated',
      'charge.captured',
      'payment_intent.succeeded',
    ]);
    expect((await delivered('charge.captured', intent.latest_charge as string)).data.object).toMatchObject({ captured: true, amount_captured: 5000 });
    expect((await delivered('payment_intent.succeeded', intent.id)).data.object).toMatchObject({ status: 'succeeded', amount_received: 5000, amount_capturable: 0 });
    expect((await suite.emulator.state(checkoutId)).capturedCharges).toEqual({ [intent.id]: 1 });
  });

  it('a partial capture releases the rest of the authorization, and only what was captured can be refunded', async () => {
    const intent = await authorize();

    const captured = await suite.emulator.stripe.paymentIntents.capture(intent.id, { amount_to_capture: 3000 });

    expect(captured).toMatchObject({ status: 'succeeded', amount: 5000, amount_received: 3000, amount_capturable: 0 });
    expect(await chargeOf(intent)).toMatchObject({ amount: 5000, amount_captured: 3000, amount_refunded: 2000, captured: true, refunded: false });
    const refund = await suite.emulator.stripe.refunds.create({ payment_intent: intent.id });
    expect(refund.amount).toBe(3000);
    expect(await chargeOf(intent)).toMatchObject({ amount_refunded: 5000, refunded: true });
    const refunds = await suite.emulator.stripe.refunds.list({ payment_intent: intent.id });
    // The released 2000 is a refund that moved no money (no balance transaction); the 3000 did.
    expect(refunds.data.map((r) => [r.amount, r.balance_transaction === null])).toEqual([
      [3000, false],
      [2000, true],
    ]);
    const more = await rejectionOf(suite.emulator.stripe.refunds.create({ payment_intent: intent.id, amount: 1 }));
    expect(more.code).toBe('charge_already_refunded');
  });

  it('capturing more than was authorized is refused and leaves the authorization as it was', async () => {
    const intent = await authorize();

    const error = await rejectionOf(suite.emulator.stripe.paymentIntents.capture(intent.id, { amount_to_capture: 5001 }));

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ code: 'amount_too_large', param: 'amount_to_capture' });
    expect(await suite.emulator.stripe.paymentIntents.retrieve(intent.id)).toMatchObject({ status: 'requires_capture', amount_capturable: 5000 });
    expect(await chargeOf(intent)).toMatchObject({ captured: false, amount_captured: 0 });
  });

  it('only an authorized intent can be captured; any other is refused as Stripe words it', async () => {
    const notConfirmed = await authorize(newCheckoutId(), { confirm: false });
    const automatic = await authorize(newCheckoutId(), { capture_method: 'automatic' });
    const alreadyCaptured = await authorize();
    await suite.emulator.stripe.paymentIntents.capture(alreadyCaptured.id);

    for (const [intent, status] of [
      [notConfirmed, 'requires_confirmation'],
      [automatic, 'succeeded'],
      [alreadyCaptured, 'succeeded'],
    ] as const) {
      const error = await rejectionOf(suite.emulator.stripe.paymentIntents.capture(intent.id));
      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error.code).toBe('payment_intent_unexpected_state');
      expect(error.message).toBe(
        `This PaymentIntent could not be captured because it has a status of ${status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`,
      );
      expect((error.raw as { payment_intent?: { id: string } }).payment_intent?.id).toBe(intent.id);
    }
    expect((await chargeOf(alreadyCaptured)).amount_captured).toBe(5000);
  });

  it('cancelling an authorization voids it: nothing captured, the hold released, and it can no longer be captured or refunded', async () => {
    const checkoutId = newCheckoutId();
    const intent = await authorize(checkoutId);

    const canceled = await suite.emulator.stripe.paymentIntents.cancel(intent.id, { cancellation_reason: 'abandoned' });

    expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned', amount_capturable: 0, amount_received: 0 });
    expect(await chargeOf(intent)).toMatchObject({ captured: false, amount_captured: 0, amount_refunded: 5000, refunded: true, balance_transaction: null });
    expect(await eventTypes(intent.id)).toEqual([
      'payment_intent.created',
      'charge.succeeded',
      'payment_intent.amount_capturable_updated',
      'refund.created',
      'charge.refunded',
      'payment_intent.canceled',
    ]);
    expect((await delivered('charge.refunded', intent.latest_charge as string)).data.object).toMatchObject({ captured: false, refunded: true, amount_refunded: 5000 });
    expect((await delivered('payment_intent.canceled', intent.id)).data.object).toMatchObject({ status: 'canceled', amount_capturable: 0 });
    const capture = await rejectionOf(suite.emulator.stripe.paymentIntents.capture(intent.id));
    expect(capture.message).toMatch(/^This PaymentIntent could not be captured because it has a status of canceled\./);
    const refund = await rejectionOf(suite.emulator.stripe.refunds.create({ payment_intent: intent.id }));
    expect(refund.message).toMatch(/^This uncaptured Charge was created by a PaymentIntent \(pi_\w+\)\. You must cancel the PaymentIntent to reverse the authorization/);
    const state = await suite.emulator.state(checkoutId);
    expect(state.capturedCharges).toEqual({ [intent.id]: 0 });
  });

  it('an authorization cannot be refunded: Stripe says to cancel the intent instead', async () => {
    const intent = await authorize();

    const byIntent = await rejectionOf(suite.emulator.stripe.refunds.create({ payment_intent: intent.id }));
    const byCharge = await rejectionOf(suite.emulator.stripe.refunds.create({ charge: intent.latest_charge as string, amount: 100 }));

    for (const error of [byIntent, byCharge]) {
      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error.message).toBe(
        `This uncaptured Charge was created by a PaymentIntent (${intent.id}). You must cancel the PaymentIntent to reverse the authorization instead of refunding the Charge directly. ` +
          'For more information, see https://stripe.com/docs/payments/place-a-hold-on-a-payment-method',
      );
    }
    expect(await suite.emulator.stripe.paymentIntents.retrieve(intent.id)).toMatchObject({ status: 'requires_capture', amount_capturable: 5000 });
  });

  it('a 3-D Secure card completes its challenge into requires_capture', async () => {
    const created = await authorize(newCheckoutId(), { payment_method: 'pm_card_authenticationRequired', confirm: false });
    const intent = await suite.emulator.stripe.paymentIntents.confirm(created.id);
    expect(intent.status).toBe('requires_action');

    const { body } = await suite.emulator.post<{ payment_intent: Stripe.PaymentIntent }>(`/_emulator/payment_intents/${intent.id}/authenticate`, { outcome: 'succeed' });

    expect(body.payment_intent).toMatchObject({ status: 'requires_capture', amount_capturable: 5000, amount_received: 0 });
    expect(await eventTypes(intent.id)).toEqual([
      'payment_intent.created',
      'payment_intent.requires_action',
      'charge.succeeded',
      'payment_intent.amount_capturable_updated',
    ]);
  });

  it('pm_card_processing settles later, like a bank debit, and cannot be authorized separately', async () => {
    const checkoutId = newCheckoutId();

    const atCreate = await rejectionOf(authorize(checkoutId, { payment_method: 'pm_card_processing' }));
    const intent = await authorize(checkoutId, { payment_method: undefined, confirm: false });
    const atConfirm = await rejectionOf(suite.emulator.stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_processing' }));

    for (const error of [atCreate, atConfirm]) {
      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error).toMatchObject({ code: 'payment_intent_incompatible_payment_method', param: 'payment_method' });
      expect(error.message).toMatch(/capture_method=manual/);
    }
    const state = await suite.emulator.state(checkoutId);
    expect(state.paymentIntents.map((pi) => [pi.id, pi.status, pi.charges.length])).toEqual([[intent.id, 'requires_payment_method', 0]]);
    const automatic = await authorize(newCheckoutId(), { payment_method: 'pm_card_processing', capture_method: 'automatic' });
    expect(automatic.status).toBe('processing');
  });

  it('an authorization expires seven days after its intent was created: canceled by Stripe, the hold released, capture refused', async () => {
    const checkoutId = newCheckoutId();
    const intent = await authorize(checkoutId);

    await suite.emulator.post('/_emulator/clock/advance', { seconds: SEVEN_DAYS - 60 });
    expect((await suite.emulator.stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_capture');
    await suite.emulator.post('/_emulator/clock/advance', { seconds: 60 });

    expect(await suite.emulator.stripe.paymentIntents.retrieve(intent.id)).toMatchObject({
      status: 'canceled',
      cancellation_reason: 'automatic',
      amount_capturable: 0,
      amount_received: 0,
    });
    expect(await chargeOf(intent)).toMatchObject({ captured: false, amount_refunded: 5000, refunded: true });
    const refunds = await suite.emulator.stripe.refunds.list({ payment_intent: intent.id });
    expect(refunds.data.map((r) => [r.amount, r.reason, r.balance_transaction])).toEqual([[5000, 'expired_uncaptured_charge', null]]);
    expect(await eventTypes(intent.id)).toEqual([
      'payment_intent.created',
      'charge.succeeded',
      'payment_intent.amount_capturable_updated',
      'charge.expired',
      'payment_intent.canceled',
    ]);
    expect((await delivered('charge.expired', intent.latest_charge as string)).data.object).toMatchObject({ captured: false, refunded: true });
    const event = await delivered('payment_intent.canceled', intent.id);
    expect(event.data.object).toMatchObject({ status: 'canceled', cancellation_reason: 'automatic' });
    expect(event.request).toEqual({ id: null, idempotency_key: null });
    const capture = await rejectionOf(suite.emulator.stripe.paymentIntents.capture(intent.id));
    expect(capture.code).toBe('payment_intent_unexpected_state');
  });

  it('a test can expire one authorization now, as if its time had run out', async () => {
    const intent = await authorize();

    const { status, body } = await suite.emulator.post<{ payment_intent: Stripe.PaymentIntent }>(`/_emulator/payment_intents/${intent.id}/expire-authorization`);

    expect(status).toBe(200);
    expect(body.payment_intent).toMatchObject({ status: 'canceled', cancellation_reason: 'automatic', amount_capturable: 0 });
    expect((await chargeOf(intent)).refunded).toBe(true);
    const again = await suite.emulator.post(`/_emulator/payment_intents/${intent.id}/expire-authorization`);
    expect(again.status).toBe(409);
  });

  it('with a shorter validity configured, an authorization expires on its own and its events are sent without anyone asking', async () => {
    const receiver = await startWebhookReceiver();
    const quick = await startEmulator({ stripeMockUrl: suite.stripeMock.url, webhookUrl: receiver.url, authorizationValiditySeconds: 1 });
    try {
      const intent = await quick.stripe.paymentIntents.create({
        amount: 900,
        currency: 'eur',
        payment_method: 'pm_card_mastercard',
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
        capture_method: 'manual',
        confirm: true,
      });
      expect((await quick.stripe.charges.retrieve(intent.latest_charge as string)).payment_method_details?.card?.capture_before).toBe(intent.created + 1);

      const canceled = await receiver.waitFor((w) => w.event.type === 'payment_intent.canceled' && (w.event.data.object as Stripe.PaymentIntent).id === intent.id);

      expect(canceled.event.data.object).toMatchObject({ status: 'canceled', cancellation_reason: 'automatic' });
      await receiver.waitFor((w) => w.event.type === 'charge.expired' && (w.event.data.object as Stripe.Charge).id === intent.latest_charge);
    } finally {
      await quick.close();
      await receiver.close();
    }
  });
});
