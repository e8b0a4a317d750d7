import Stripe from 'stripe';
import { emulatorSuite, newCheckoutId, rejectionOf, startEmulator } from './support';

describe('Stripe emulator: validation by stripe-mock', () => {
  const suite = emulatorSuite();

  const valid = (checkoutId: string): Stripe.PaymentIntentCreateParams => ({
    amount: 1000,
    currency: 'usd',
    payment_method: 'pm_card_visa',
    automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    metadata: { checkoutId },
  });

  it('a non-numeric amount is refused by stripe-mock and nothing is created', async () => {
    const checkoutId = newCheckoutId();

    const error = await rejectionOf(suite.emulator.stripe.paymentIntents.create({ ...valid(checkoutId), amount: 'abc' as unknown as number }));

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.statusCode).toBe(400);
    expect(error.message).toMatch(/^\[stripe-mock\] .*amount/);
    expect((await suite.emulator.state(checkoutId)).paymentIntents).toHaveLength(0);
  });

  it('an unknown parameter is refused by stripe-mock', async () => {
    const checkoutId = newCheckoutId();
    const params = { ...valid(checkoutId), shoe_size: '42' } as Stripe.PaymentIntentCreateParams;

    const error = await rejectionOf(suite.emulator.stripe.paymentIntents.create(params));

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.message).toMatch(/^\[stripe-mock\] /);
    expect((await suite.emulator.state(checkoutId)).paymentIntents).toHaveLength(0);
  });

  it('an invalid enum value on cancel is refused by stripe-mock', async () => {
    const intent = await suite.emulator.stripe.paymentIntents.create(valid(newCheckoutId()));

    const error = await rejectionOf(
      suite.emulator.stripe.paymentIntents.cancel(intent.id, { cancellation_reason: 'changed_my_mind' as Stripe.PaymentIntentCancelParams.CancellationReason }),
    );

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.message).toMatch(/^\[stripe-mock\] .*cancellation_reason/);
    expect((await suite.emulator.stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_confirmation');
  });

  it('a capture with a non-numeric amount is refused by stripe-mock and the authorization stays whole', async () => {
    const intent = await suite.emulator.stripe.paymentIntents.create({ ...valid(newCheckoutId()), capture_method: 'manual', confirm: true });

    const error = await rejectionOf(suite.emulator.stripe.paymentIntents.capture(intent.id, { amount_to_capture: 'all' as unknown as number }));

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.message).toMatch(/^\[stripe-mock\] .*amount_to_capture/);
    expect(await suite.emulator.stripe.paymentIntents.retrieve(intent.id)).toMatchObject({ status: 'requires_capture', amount_capturable: 1000 });
  });

  it('the SDK creates a PaymentIntent on stripe-mock directly', async () => {
    const { hostname, port } = new URL(suite.stripeMock.url);
    const direct = new Stripe('sk_test_123', { host: hostname, port: Number(port), protocol: 'http', maxNetworkRetries: 0, telemetry: false });

    const intent = await direct.paymentIntents.create({ amount: 1000, currency: 'usd', automatic_payment_methods: { enabled: true, allow_redirects: 'never' } });

    expect(intent.object).toBe('payment_intent');
    expect(intent.id).toMatch(/^pi_/);
  });

  it('without stripe-mock, the emulator still refuses unknown parameters itself', async () => {
    const standalone = await startEmulator();
    try {
      const params = { ...valid(newCheckoutId()), shoe_size: '42' } as Stripe.PaymentIntentCreateParams;

      const error = await rejectionOf(standalone.stripe.paymentIntents.create(params));

      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error).toMatchObject({ code: 'parameter_unknown', param: 'shoe_size', message: 'Received unknown parameter: shoe_size' });
      const invalidAmount = await rejectionOf(standalone.stripe.paymentIntents.create({ ...valid(newCheckoutId()), amount: 'abc' as unknown as number }));
      expect(invalidAmount).toMatchObject({ code: 'parameter_invalid_integer', param: 'amount' });
    } finally {
      await standalone.close();
    }
  });
});
