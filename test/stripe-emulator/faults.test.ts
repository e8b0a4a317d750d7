import Stripe from 'stripe';
import { emulatorSuite, newCheckoutId, rejectionOf } from './support';

describe('Stripe emulator: injected faults', () => {
  const suite = emulatorSuite();

  const charge = (stripe: Stripe, checkoutId: string) =>
    stripe.paymentIntents.create(
      { amount: 2500, currency: 'usd', payment_method: 'pm_card_visa', automatic_payment_methods: { enabled: true, allow_redirects: 'never' }, confirm: true, metadata: { checkoutId } },
      { idempotencyKey: `checkout-${checkoutId}:capture` },
    );

  it('a 500 before execution reaches the SDK as StripeAPIError, charges nothing, and the retry with the same key charges once', async () => {
    const checkoutId = newCheckoutId();
    const injected = await suite.emulator.post('/_emulator/faults', { status: 500, count: 1, match: '^POST /v1/payment_intents$' });
    expect(injected.status).toBe(201);

    const error = await rejectionOf(charge(suite.emulator.stripe, checkoutId));

    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error.statusCode).toBe(500);
    expect((await suite.emulator.state(checkoutId)).paymentIntents).toHaveLength(0);

    const intent = await charge(suite.emulator.stripe, checkoutId);

    expect(intent.status).toBe('succeeded');
    expect(intent.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    const state = await suite.emulator.state(checkoutId);
    expect(state.successfulCharges).toEqual({ [intent.id]: 1 });
    expect(state.requests.map((r) => [r.status, r.fault])).toEqual([
      [500, 'before_execute'],
      [200, null],
    ]);
  });

  it("the SDK's own retries ride out a 503 with a single charge", async () => {
    const checkoutId = newCheckoutId();
    await suite.emulator.post('/_emulator/faults', { status: 503 });

    const intent = await charge(suite.emulator.client({ maxNetworkRetries: 2 }), checkoutId);

    expect(intent.status).toBe('succeeded');
    expect((await suite.emulator.state(checkoutId)).successfulCharges).toEqual({ [intent.id]: 1 });
  });

  it('a 500 after execution is saved for its key, as at Stripe: the charge happened, and every retry with that key gets the same 500 without charging again', async () => {
    const checkoutId = newCheckoutId();
    await suite.emulator.post('/_emulator/faults', { status: 500, afterExecute: true, match: '^POST /v1/payment_intents$' });

    const error = await rejectionOf(charge(suite.emulator.stripe, checkoutId));

    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error.statusCode).toBe(500);
    // Stripe tells the SDK not to retry: its idempotency layer would only replay the same 500.
    expect(error.headers?.['stripe-should-retry']).toBe('false');
    const [charged] = (await suite.emulator.state(checkoutId)).paymentIntents;
    expect(charged?.status).toBe('succeeded');

    const retried = await rejectionOf(charge(suite.emulator.client({ maxNetworkRetries: 3 }), checkoutId));

    expect(retried).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(retried.statusCode).toBe(500);
    expect(retried.headers?.['idempotent-replayed']).toBe('true');
    expect(retried.headers?.['original-request']).toBe(error.requestId);
    const state = await suite.emulator.state(checkoutId);
    expect(state.successfulCharges).toEqual({ [charged!.id]: 1 });
    expect(state.requests.map((r) => [r.status, r.fault, r.replayed])).toEqual([
      [500, 'after_execute', false],
      [500, null, true],
    ]);
  });

  it('a 500 from a request that started and was rolled back is saved too: nothing happened, and only a new key can run it', async () => {
    const checkoutId = newCheckoutId();
    await suite.emulator.post('/_emulator/faults', { status: 500, afterExecute: true, rolledBack: true, match: '^POST /v1/payment_intents$' });

    const error = await rejectionOf(charge(suite.emulator.stripe, checkoutId));
    const replayed = await rejectionOf(charge(suite.emulator.stripe, checkoutId));

    expect([error.statusCode, replayed.statusCode]).toEqual([500, 500]);
    expect(replayed.headers?.['idempotent-replayed']).toBe('true');
    expect((await suite.emulator.state(checkoutId)).paymentIntents).toHaveLength(0);

    const intent = await suite.emulator.stripe.paymentIntents.create(
      { amount: 2500, currency: 'usd', payment_method: 'pm_card_visa', automatic_payment_methods: { enabled: true, allow_redirects: 'never' }, confirm: true, metadata: { checkoutId } },
      { idempotencyKey: `checkout-${checkoutId}:capture:2` },
    );
    expect(intent.status).toBe('succeeded');
    expect((await suite.emulator.state(checkoutId)).successfulCharges).toEqual({ [intent.id]: 1 });
  });

  it('a rate-limited request is answered 429 with Stripe\'s rate_limit error before anything runs; the SDK does not retry it and the same key runs afterwards', async () => {
    const checkoutId = newCheckoutId();
    await suite.emulator.post('/_emulator/faults', { status: 429, match: '^POST /v1/payment_intents$' });

    const error = await rejectionOf(charge(suite.emulator.client({ maxNetworkRetries: 3 }), checkoutId));

    expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(error).toMatchObject({ statusCode: 429, code: 'rate_limit' });
    expect(error.headers?.['stripe-rate-limited-reason']).toBe('global-rate');
    expect(error.headers?.['stripe-should-retry']).toBeUndefined();
    let state = await suite.emulator.state(checkoutId);
    expect(state.paymentIntents).toHaveLength(0);
    expect(state.requests.map((r) => [r.status, r.fault])).toEqual([[429, 'before_execute']]);

    const intent = await charge(suite.emulator.stripe, checkoutId);

    expect(intent.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    state = await suite.emulator.state(checkoutId);
    expect(state.successfulCharges).toEqual({ [intent.id]: 1 });
  });

  it('a 429 lock_timeout says Stripe-Should-Retry: true, and the SDK retries it by itself with the same key', async () => {
    const checkoutId = newCheckoutId();
    await suite.emulator.post('/_emulator/faults', { status: 429, code: 'lock_timeout', match: '^POST /v1/payment_intents$' });

    const refused = await rejectionOf(charge(suite.emulator.stripe, checkoutId));
    expect(refused).toMatchObject({ statusCode: 429, code: 'lock_timeout' });
    expect(refused.headers?.['stripe-should-retry']).toBe('true');
    await suite.emulator.post('/_emulator/faults', { status: 429, code: 'lock_timeout', match: '^POST /v1/payment_intents$' });

    const intent = await charge(suite.emulator.client({ maxNetworkRetries: 1 }), checkoutId);

    expect(intent.status).toBe('succeeded');
    const state = await suite.emulator.state(checkoutId);
    expect(state.successfulCharges).toEqual({ [intent.id]: 1 });
    expect(state.requests.map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it('latency delays the answer but not the payment', async () => {
    const checkoutId = newCheckoutId();
    await suite.emulator.post('/_emulator/faults', { latencyMs: 600 });

    const started = Date.now();
    const intent = await charge(suite.emulator.stripe, checkoutId);

    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(intent.status).toBe('succeeded');
    const quick = Date.now();
    await suite.emulator.stripe.paymentIntents.retrieve(intent.id);
    expect(Date.now() - quick).toBeLessThan(600);
  });

  it('a fault can target one endpoint by pattern and stops after its count', async () => {
    const checkoutId = newCheckoutId();
    await suite.emulator.post('/_emulator/faults', { status: 502, count: 2, match: '^POST /v1/refunds$' });
    const intent = await charge(suite.emulator.stripe, checkoutId);

    const first = await rejectionOf(suite.emulator.stripe.refunds.create({ payment_intent: intent.id }, { idempotencyKey: `refund-${checkoutId}` }));
    const second = await rejectionOf(suite.emulator.stripe.refunds.create({ payment_intent: intent.id }, { idempotencyKey: `refund-${checkoutId}` }));
    const refund = await suite.emulator.stripe.refunds.create({ payment_intent: intent.id }, { idempotencyKey: `refund-${checkoutId}` });

    expect([first.statusCode, second.statusCode]).toEqual([502, 502]);
    expect(refund).toMatchObject({ amount: 2500, status: 'succeeded' });
    expect((await suite.emulator.state(checkoutId)).paymentIntents[0]?.refunds).toHaveLength(1);
  });

  it('refuses a fault that is not one of the supported kinds', async () => {
    const refusals = await Promise.all(
      [
        { status: 418 },
        // Rate limiters refuse before the endpoint starts: a 429 after execution is not something Stripe does.
        { status: 429, afterExecute: true },
        { status: 500, code: 'lock_timeout' },
        { status: 500, rolledBack: true },
      ].map(async (fault) => (await suite.emulator.post('/_emulator/faults', fault)).status),
    );

    expect(refusals).toEqual([400, 400, 400, 400]);
  });
});
