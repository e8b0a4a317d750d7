import Stripe from 'stripe';
import { emulatorSuite, newCheckoutId, rejectionOf } from './support';

describe('Stripe emulator: idempotency keys', () => {
  const suite = emulatorSuite();

  const chargeParams = (checkoutId: string, paymentMethod = 'pm_card_visa'): Stripe.PaymentIntentCreateParams => ({
    amount: 1999,
    currency: 'usd',
    payment_method: paymentMethod,
    automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    confirm: true,
    metadata: { checkoutId },
  });

  it('the same key and parameters return the same intent and charge once', async () => {
    const checkoutId = newCheckoutId();
    const idempotencyKey = `checkout-${checkoutId}:capture`;

    const first = await suite.emulator.stripe.paymentIntents.create(chargeParams(checkoutId), { idempotencyKey });
    const second = await suite.emulator.stripe.paymentIntents.create(chargeParams(checkoutId), { idempotencyKey });

    expect(second.id).toBe(first.id);
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    const state = await suite.emulator.state(checkoutId);
    expect(state.paymentIntents).toHaveLength(1);
    expect(state.successfulCharges).toEqual({ [first.id]: 1 });
    expect(state.requests.map((r) => [r.method, r.path, r.idempotencyKey, r.status, r.replayed])).toEqual([
      ['POST', '/v1/payment_intents', idempotencyKey, 200, false],
      ['POST', '/v1/payment_intents', idempotencyKey, 200, true],
    ]);
  });

  it('the same key with different parameters is refused with an idempotency error', async () => {
    const checkoutId = newCheckoutId();
    const idempotencyKey = `checkout-${checkoutId}:capture`;
    await suite.emulator.stripe.paymentIntents.create(chargeParams(checkoutId), { idempotencyKey });

    const error = await rejectionOf(
      suite.emulator.stripe.paymentIntents.create({ ...chargeParams(checkoutId), amount: 2999 }, { idempotencyKey }),
    );

    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(error).toMatchObject({ statusCode: 400, type: 'StripeIdempotencyError' });
    expect((await suite.emulator.state(checkoutId)).paymentIntents).toHaveLength(1);
  });

  it('a key reused on another endpoint is refused', async () => {
    const checkoutId = newCheckoutId();
    const idempotencyKey = `checkout-${checkoutId}:shared`;
    const intent = await suite.emulator.stripe.paymentIntents.create(chargeParams(checkoutId), { idempotencyKey });

    const error = await rejectionOf(suite.emulator.stripe.refunds.create({ payment_intent: intent.id }, { idempotencyKey }));

    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(error.message).toMatch(/same endpoint/);
  });

  it('a declined confirmation is replayed as the same decline without a second attempt', async () => {
    const checkoutId = newCheckoutId();
    const idempotencyKey = `checkout-${checkoutId}:capture`;

    const first = await rejectionOf(suite.emulator.stripe.paymentIntents.create(chargeParams(checkoutId, 'pm_card_chargeDeclined'), { idempotencyKey }));
    const second = await rejectionOf(suite.emulator.stripe.paymentIntents.create(chargeParams(checkoutId, 'pm_card_chargeDeclined'), { idempotencyKey }));

    expect(first).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(second).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(second.payment_intent?.id).toBe(first.payment_intent?.id);
    const [intent] = (await suite.emulator.state(checkoutId)).paymentIntents;
    expect(intent?.charges.map((c) => c.status)).toEqual(['failed']);
  });

  it('a request whose key is still in use gets 409, and the SDK retry then receives the saved answer', async () => {
    const checkoutId = newCheckoutId();
    const idempotencyKey = `checkout-${checkoutId}:capture`;
    await suite.emulator.post('/_emulator/faults', { latencyMs: 800, match: '^POST /v1/payment_intents$' });

    const slow = suite.emulator.stripe.paymentIntents.create(chargeParams(checkoutId), { idempotencyKey });
    await new Promise((r) => setTimeout(r, 200));
    const concurrent = await rejectionOf(suite.emulator.stripe.paymentIntents.create(chargeParams(checkoutId), { idempotencyKey }));
    const retrying = suite.emulator.client({ maxNetworkRetries: 5 }).paymentIntents.create(chargeParams(checkoutId), { idempotencyKey });

    expect(concurrent).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(concurrent).toMatchObject({ statusCode: 409, code: 'idempotency_key_in_use' });
    const [original, retried] = await Promise.all([slow, retrying]);
    expect(retried.id).toBe(original.id);
    expect((await suite.emulator.state(checkoutId)).successfulCharges).toEqual({ [original.id]: 1 });
  });

  it('keys are scoped per API key', async () => {
    const checkoutId = newCheckoutId();
    const idempotencyKey = `checkout-${checkoutId}:capture`;

    const ours = await suite.emulator.stripe.paymentIntents.create(chargeParams(checkoutId), { idempotencyKey });
    const theirs = await suite.emulator.client({ apiKey: 'sk_test_another_account' }).paymentIntents.create(chargeParams(checkoutId), { idempotencyKey });

    expect(theirs.id).not.toBe(ours.id);
  });

  it('a request refused by validation saves nothing, so the key can be used again with corrected parameters', async () => {
    const checkoutId = newCheckoutId();
    const idempotencyKey = `checkout-${checkoutId}:capture`;
    const refused = await rejectionOf(
      suite.emulator.stripe.paymentIntents.create({ ...chargeParams(checkoutId), payment_method: 'pm_card_unknown' }, { idempotencyKey }),
    );
    expect(refused.code).toBe('resource_missing');

    const intent = await suite.emulator.stripe.paymentIntents.create(chargeParams(checkoutId), { idempotencyKey });

    expect(intent.status).toBe('succeeded');
  });

  it('a refusal for the state the object was in is saved and replayed too, even after the state changed; a new key is a new request', async () => {
    const checkoutId = newCheckoutId();
    const idempotencyKey = `checkout-${checkoutId}:void`;
    const intent = await suite.emulator.stripe.paymentIntents.create({ ...chargeParams(checkoutId, 'pm_card_processing') });
    expect(intent.status).toBe('processing');

    const refused = await rejectionOf(suite.emulator.stripe.paymentIntents.cancel(intent.id, {}, { idempotencyKey }));
    expect(refused).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    await suite.emulator.post(`/_emulator/payment_intents/${intent.id}/settle`, { outcome: 'fail' });

    const replayed = await rejectionOf(suite.emulator.stripe.paymentIntents.cancel(intent.id, {}, { idempotencyKey }));

    expect(replayed).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    expect(replayed.headers?.['idempotent-replayed']).toBe('true');
    expect((await suite.emulator.stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_payment_method');
    const cancelled = await suite.emulator.stripe.paymentIntents.cancel(intent.id, {}, { idempotencyKey: `${idempotencyKey}:2` });
    expect(cancelled.status).toBe('canceled');
  });

  it('a key is kept for 24 hours: a day later the same key and parameters run as a new request', async () => {
    const checkoutId = newCheckoutId();
    const idempotencyKey = `checkout-${checkoutId}:intent`;
    const params = { ...chargeParams(checkoutId), confirm: false };
    const first = await suite.emulator.stripe.paymentIntents.create(params, { idempotencyKey });

    await suite.emulator.post('/_emulator/clock/advance', { seconds: 24 * 3600 - 60 });
    const withinTheDay = await suite.emulator.stripe.paymentIntents.create(params, { idempotencyKey });
    await suite.emulator.post('/_emulator/clock/advance', { seconds: 120 });
    const dayLater = await suite.emulator.stripe.paymentIntents.create(params, { idempotencyKey });

    expect(withinTheDay.id).toBe(first.id);
    expect(withinTheDay.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(dayLater.id).not.toBe(first.id);
    expect(dayLater.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect((await suite.emulator.state(checkoutId)).paymentIntents).toHaveLength(2);
  });
});
