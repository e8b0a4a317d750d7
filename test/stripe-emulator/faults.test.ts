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

  it('a 500 after execution hides a charge that happened, and the retry with the same key returns it without charging again', async () => {
    const checkoutId = newCheckoutId();
    await suite.emulator.post('/_emulator/faults', { status: 500, afterExecute: true, match: '^POST /v1/payment_intents$' });

    const error = await rejectionOf(charge(suite.emulator.stripe, checkoutId));

    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    const [charged] = (await suite.emulator.state(checkoutId)).paymentIntents;
    expect(charged?.status).toBe('succeeded');

    const retried = await charge(suite.emulator.stripe, checkoutId);

    expect(retried.id).toBe(charged?.id);
    expect(retried.lastResponse.headers['idempotent-replayed']).toBe('true');
    const state = await suite.emulator.state(checkoutId);
    expect(state.successfulCharges).toEqual({ [retried.id]: 1 });
    expect(state.requests.map((r) => [r.status, r.fault, r.replayed])).toEqual([
      [500, 'after_execute', false],
      [200, null, true],
    ]);
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
    const { status } = await suite.emulator.post('/_emulator/faults', { status: 418 });

    expect(status).toBe(400);
  });
});
