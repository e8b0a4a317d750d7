import type Stripe from 'stripe';
import { EmulatorClient } from '../support/emulator';
import { API_KEY, emulatorSuite, newCheckoutId } from './support';

describe('Stripe emulator: the test client tells money moved from money only held', () => {
  const suite = emulatorSuite();
  let client: EmulatorClient;
  beforeAll(() => {
    client = new EmulatorClient(suite.emulator.url, API_KEY);
  });

  const pay = (checkoutId: string, extra: Partial<Stripe.PaymentIntentCreateParams> = {}) =>
    client.stripe.paymentIntents.create({
      amount: 4000,
      currency: 'eur',
      payment_method: 'pm_card_visa',
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      confirm: true,
      metadata: { checkoutId },
      ...extra,
    });

  it('an authorization held, then voided, moved no money: it is released, not refunded', async () => {
    const checkoutId = newCheckoutId();
    const intent = await pay(checkoutId, { capture_method: 'manual' });
    expect(await client.moneyFor(checkoutId)).toMatchObject({ captured: 0, authorized: 4000, refunded: 0, released: 0, charges: 0 });

    await client.stripe.paymentIntents.cancel(intent.id);

    expect(await client.moneyFor(checkoutId)).toMatchObject({ captured: 0, authorized: 0, refunded: 0, released: 4000, charges: 0 });
  });

  it('an expired authorization is released too', async () => {
    const checkoutId = newCheckoutId();
    const intent = await pay(checkoutId, { capture_method: 'manual' });

    const expired = await client.expireAuthorization(intent.id);

    expect(expired).toMatchObject({ status: 'canceled', cancellation_reason: 'automatic' });
    expect(await client.moneyFor(checkoutId)).toMatchObject({ captured: 0, authorized: 0, released: 4000 });
  });

  it('a capture, a refund and a lost dispute are each counted where they belong', async () => {
    const checkoutId = newCheckoutId();
    const intent = await pay(checkoutId, { capture_method: 'manual' });
    await client.stripe.paymentIntents.capture(intent.id, { amount_to_capture: 3000 });
    await client.stripe.refunds.create({ payment_intent: intent.id, amount: 500 });

    const dispute = await client.openDispute(intent.id, { reason: 'fraudulent' });
    expect(await client.submitDisputeEvidence(dispute.id)).toMatchObject({ status: 'under_review' });
    expect(await client.closeDispute(dispute.id, 'lost')).toMatchObject({ status: 'lost', amount: 2500 });

    expect(await client.moneyFor(checkoutId)).toMatchObject({ captured: 3000, refunded: 500, released: 1000, authorized: 0, chargedBack: 2500, charges: 1 });
  });
});
