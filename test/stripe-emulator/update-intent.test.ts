import Stripe from 'stripe';
import { emulatorSuite, newCheckoutId, rejectionOf } from './support';

describe('Stripe emulator: updating a PaymentIntent', () => {
  const suite = emulatorSuite();

  const createIntent = (checkoutId: string, extra: Partial<Stripe.PaymentIntentCreateParams> = {}) =>
    suite.emulator.stripe.paymentIntents.create({
      amount: 4200,
      currency: 'eur',
      payment_method: 'pm_card_visa',
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      metadata: { checkoutId, orderId: 'o-1' },
      ...extra,
    });

  it('before confirmation the amount, currency and description change, and metadata is merged key by key (an empty value removes a key)', async () => {
    const checkoutId = newCheckoutId();
    const intent = await createIntent(checkoutId);

    const updated = await suite.emulator.stripe.paymentIntents.update(intent.id, {
      amount: 5100,
      currency: 'usd',
      description: 'Pro plan, yearly',
      metadata: { orderId: '', note: 'upgraded' },
    });

    expect(updated).toMatchObject({ id: intent.id, amount: 5100, currency: 'usd', description: 'Pro plan, yearly', status: 'requires_confirmation' });
    expect(updated.metadata).toEqual({ checkoutId, note: 'upgraded' });
    const confirmed = await suite.emulator.stripe.paymentIntents.confirm(intent.id);
    expect(confirmed).toMatchObject({ status: 'succeeded', amount_received: 5100 });
  });

  it('a succeeded intent keeps its amount (payment_intent_unexpected_state) but its metadata can still change', async () => {
    const intent = await createIntent(newCheckoutId(), { confirm: true });

    const refused = await rejectionOf(suite.emulator.stripe.paymentIntents.update(intent.id, { amount: 1 }));
    const relabelled = await suite.emulator.stripe.paymentIntents.update(intent.id, { metadata: { checkoutId: 'someone-else' } });

    expect(refused).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(refused).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    expect(relabelled).toMatchObject({ amount: 4200, amount_received: 4200, status: 'succeeded', metadata: { checkoutId: 'someone-else', orderId: 'o-1' } });
  });

  it('metadata set to an empty string removes every key', async () => {
    const intent = await createIntent(newCheckoutId());

    const updated = await suite.emulator.stripe.paymentIntents.update(intent.id, { metadata: '' });

    expect(updated.metadata).toEqual({});
  });

  it('a parameter Stripe does not take on update is refused by stripe-mock, and nothing changes', async () => {
    const intent = await createIntent(newCheckoutId());

    const error = await rejectionOf(suite.emulator.stripe.paymentIntents.update(intent.id, { confirm: true } as Stripe.PaymentIntentUpdateParams));

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.message).toMatch(/^\[stripe-mock\] /);
    expect((await suite.emulator.stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_confirmation');
  });

  it('an unknown intent is a 404', async () => {
    const error = await rejectionOf(suite.emulator.stripe.paymentIntents.update('pi_doesnotexist000000000000', { description: 'x' }));

    expect(error).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });
});
