import Stripe from 'stripe';
import { emulatorSuite, newCheckoutId, rejectionOf } from './support';

describe('Stripe emulator: test payment methods', () => {
  const suite = emulatorSuite();

  const createIntent = (checkoutId: string, paymentMethod: string, extra: Partial<Stripe.PaymentIntentCreateParams> = {}) =>
    suite.emulator.stripe.paymentIntents.create({
      amount: 4200,
      currency: 'eur',
      payment_method: paymentMethod,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      description: `Order for ${checkoutId}`,
      metadata: { checkoutId },
      ...extra,
    });

  it('pm_card_visa succeeds on confirm and charges exactly once', async () => {
    const checkoutId = newCheckoutId();
    const created = await createIntent(checkoutId, 'pm_card_visa');
    expect(created).toMatchObject({ object: 'payment_intent', status: 'requires_confirmation', livemode: false, amount_received: 0 });
    expect(created.id).toMatch(/^pi_/);
    expect(created.client_secret).toMatch(new RegExp(`^${created.id}_secret_`));

    const confirmed = await suite.emulator.stripe.paymentIntents.confirm(created.id);

    expect(confirmed).toMatchObject({ status: 'succeeded', amount_received: 4200, last_payment_error: null, next_action: null, metadata: { checkoutId } });
    const charge = await suite.emulator.stripe.charges.retrieve(confirmed.latest_charge as string);
    expect(charge).toMatchObject({ object: 'charge', status: 'succeeded', paid: true, amount: 4200, amount_refunded: 0, payment_intent: created.id });
    expect(charge.id).toMatch(/^ch_/);
    const state = await suite.emulator.state(checkoutId);
    expect(state.successfulCharges).toEqual({ [created.id]: 1 });
  });

  it('pm_card_chargeDeclined is refused with a card_declined StripeCardError and the intent waits for another card', async () => {
    const checkoutId = newCheckoutId();
    const created = await createIntent(checkoutId, 'pm_card_chargeDeclined');

    const error = await rejectionOf(suite.emulator.stripe.paymentIntents.confirm(created.id));

    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error).toMatchObject({ statusCode: 402, type: 'StripeCardError', code: 'card_declined', decline_code: 'generic_decline' });
    expect(error.payment_intent).toMatchObject({
      id: created.id,
      status: 'requires_payment_method',
      last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline' },
    });
    const intent = await suite.emulator.stripe.paymentIntents.retrieve(created.id);
    expect(intent).toMatchObject({ status: 'requires_payment_method', payment_method: null, amount_received: 0 });
    expect((await suite.emulator.state(checkoutId)).successfulCharges).toEqual({ [created.id]: 0 });
  });

  it('a declined intent can be paid with another card', async () => {
    const created = await createIntent(newCheckoutId(), 'pm_card_chargeDeclined');
    await rejectionOf(suite.emulator.stripe.paymentIntents.confirm(created.id));

    const retried = await suite.emulator.stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_visa' });

    expect(retried).toMatchObject({ status: 'succeeded', payment_method: 'pm_card_visa', last_payment_error: null });
  });

  it('pm_card_authenticationRequired asks for 3-D Secure with a redirect to the emulator challenge page', async () => {
    const created = await createIntent(newCheckoutId(), 'pm_card_authenticationRequired');

    const confirmed = await suite.emulator.stripe.paymentIntents.confirm(created.id, { return_url: 'https://shop.example/checkout/done' });

    expect(confirmed.status).toBe('requires_action');
    expect(confirmed.next_action).toEqual({
      type: 'redirect_to_url',
      redirect_to_url: { url: `${suite.emulator.url}/_emulator/3ds/${created.id}`, return_url: 'https://shop.example/checkout/done' },
    });
  });

  it('pm_card_processing stays processing until the payment settles', async () => {
    const created = await createIntent(newCheckoutId(), 'pm_card_processing', { confirm: true });

    expect(created.status).toBe('processing');
    expect((await suite.emulator.stripe.paymentIntents.retrieve(created.id)).status).toBe('processing');
  });

  it('an unknown payment method is refused as a missing resource', async () => {
    const error = await rejectionOf(createIntent(newCheckoutId(), 'pm_card_doesNotExist'));

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'payment_method' });
  });

  it('a succeeded intent cannot be cancelled, while one waiting for authentication can', async () => {
    const succeeded = await createIntent(newCheckoutId(), 'pm_card_visa', { confirm: true });
    const error = await rejectionOf(suite.emulator.stripe.paymentIntents.cancel(succeeded.id, { cancellation_reason: 'abandoned' }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });

    const waiting = await createIntent(newCheckoutId(), 'pm_card_authenticationRequired', { confirm: true });
    const cancelled = await suite.emulator.stripe.paymentIntents.cancel(waiting.id, { cancellation_reason: 'abandoned' });
    expect(cancelled).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned', next_action: null });
    expect(cancelled.canceled_at).toEqual(expect.any(Number));
  });

  it('confirming with automatic payment methods and no return_url is refused, as Stripe does', async () => {
    const error = await rejectionOf(
      suite.emulator.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }),
    );

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.param).toBe('return_url');
  });

  it("payment_method_types, removed in the SDK's API version, is refused with a pointer to its replacements", async () => {
    const params = { amount: 1000, currency: 'usd', payment_method_types: ['card'] } as Stripe.PaymentIntentCreateParams;

    const error = await rejectionOf(suite.emulator.stripe.paymentIntents.create(params));

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ code: 'parameter_unknown', param: 'payment_method_types' });
    expect(error.message).toMatch(/automatic_payment_methods/);
  });

  it('finds intents by metadata with search', async () => {
    const checkoutId = newCheckoutId();
    const created = await createIntent(checkoutId, 'pm_card_visa');
    await createIntent(newCheckoutId(), 'pm_card_visa');

    const result = await suite.emulator.stripe.paymentIntents.search({ query: `metadata['checkoutId']:'${checkoutId}'` });

    expect(result.object).toBe('search_result');
    expect(result.data.map((pi) => pi.id)).toEqual([created.id]);
  });

  it('expands latest_charge when asked', async () => {
    const created = await createIntent(newCheckoutId(), 'pm_card_visa', { confirm: true });

    const intent = await suite.emulator.stripe.paymentIntents.retrieve(created.id, { expand: ['latest_charge'] });

    expect(intent.latest_charge).toMatchObject({ object: 'charge', id: created.latest_charge, status: 'succeeded' });
  });

  it('refuses a request without a test-mode secret key', async () => {
    const error = await rejectionOf(suite.emulator.client({ apiKey: 'sk_live_not_here' }).paymentIntents.retrieve('pi_123'));

    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(error.statusCode).toBe(401);
  });
});
