import Stripe from 'stripe';
import { WEBHOOK_SECRET, emulatorSuite, newCheckoutId } from './support';

interface AuthenticateAnswer {
  payment_intent: Stripe.PaymentIntent;
  redirect_url: string | null;
}

describe('Stripe emulator: 3-D Secure and asynchronous payments', () => {
  const suite = emulatorSuite({ webhookReceiver: true });

  const intentNeeding = async (paymentMethod: 'pm_card_authenticationRequired' | 'pm_card_processing') => {
    const created = await suite.emulator.stripe.paymentIntents.create({
      amount: 3100,
      currency: 'eur',
      payment_method: paymentMethod,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      description: 'Pro plan, yearly',
      metadata: { checkoutId: newCheckoutId() },
    });
    return suite.emulator.stripe.paymentIntents.confirm(created.id, { return_url: 'https://shop.example/checkout/return?c=1' });
  };

  const webhookFor = async (type: string, intentId: string) => {
    const delivered = await suite.receiver.waitFor((w) => w.event.type === type && (w.event.data.object as Stripe.PaymentIntent).id === intentId);
    return suite.emulator.stripe.webhooks.constructEvent(delivered.rawBody, delivered.headers['stripe-signature'] as string, WEBHOOK_SECRET);
  };

  it('the challenge page renders with buttons to complete or fail authentication', async () => {
    const intent = await intentNeeding('pm_card_authenticationRequired');

    const response = await fetch(intent.next_action!.redirect_to_url!.url!);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('Complete authentication');
    expect(html).toContain('Fail authentication');
    expect(html).toContain('Local Stripe emulator');
    expect(html).toContain('€31.00');
    expect(html).toContain(`action="/_emulator/payment_intents/${intent.id}/authenticate"`);
  });

  it('completing authentication succeeds the payment and sends payment_intent.succeeded', async () => {
    const intent = await intentNeeding('pm_card_authenticationRequired');
    await webhookFor('payment_intent.requires_action', intent.id);

    const { status, body } = await suite.emulator.post<AuthenticateAnswer>(`/_emulator/payment_intents/${intent.id}/authenticate`, { outcome: 'succeed' });

    expect(status).toBe(200);
    expect(body.payment_intent.status).toBe('succeeded');
    expect(body.redirect_url).toMatch(/^https:\/\/shop\.example\/checkout\/return\?c=1&payment_intent=pi_.+&redirect_status=succeeded$/);
    const event = await webhookFor('payment_intent.succeeded', intent.id);
    expect(event.data.object).toMatchObject({ status: 'succeeded', amount_received: 3100, next_action: null });
    expect((await suite.emulator.stripe.paymentIntents.retrieve(intent.id)).status).toBe('succeeded');
  });

  it('failing authentication returns the intent to requires_payment_method and sends payment_intent.payment_failed', async () => {
    const intent = await intentNeeding('pm_card_authenticationRequired');

    const { status } = await suite.emulator.post(`/_emulator/payment_intents/${intent.id}/authenticate`, { outcome: 'fail' });

    expect(status).toBe(200);
    const event = await webhookFor('payment_intent.payment_failed', intent.id);
    expect(event.data.object).toMatchObject({
      status: 'requires_payment_method',
      last_payment_error: { code: 'payment_intent_authentication_failure' },
    });
    expect((await suite.emulator.state((intent.metadata as { checkoutId: string }).checkoutId)).successfulCharges).toEqual({ [intent.id]: 0 });
  });

  it("the page's form sends the customer back to the return_url with Stripe's query parameters", async () => {
    const intent = await intentNeeding('pm_card_authenticationRequired');

    const response = await fetch(`${suite.emulator.url}/_emulator/payment_intents/${intent.id}/authenticate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'outcome=succeed',
      redirect: 'manual',
    });

    expect(response.status).toBe(303);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('https://shop.example/checkout/return');
    expect(Object.fromEntries(location.searchParams)).toEqual({
      c: '1',
      payment_intent: intent.id,
      payment_intent_client_secret: intent.client_secret,
      redirect_status: 'succeeded',
    });
  });

  it('authenticating an intent that is not waiting for it is refused', async () => {
    const intent = await intentNeeding('pm_card_authenticationRequired');
    await suite.emulator.post(`/_emulator/payment_intents/${intent.id}/authenticate`, { outcome: 'succeed' });

    const { status } = await suite.emulator.post(`/_emulator/payment_intents/${intent.id}/authenticate`, { outcome: 'fail' });

    expect(status).toBe(409);
  });

  it('a processing payment settled as succeeded charges once and sends payment_intent.succeeded', async () => {
    const intent = await intentNeeding('pm_card_processing');
    expect(intent.status).toBe('processing');
    await webhookFor('payment_intent.processing', intent.id);

    const { status } = await suite.emulator.post(`/_emulator/payment_intents/${intent.id}/settle`, { outcome: 'succeed' });

    expect(status).toBe(200);
    const event = await webhookFor('payment_intent.succeeded', intent.id);
    expect(event.data.object).toMatchObject({ status: 'succeeded', amount_received: 3100 });
    expect((await suite.emulator.state((intent.metadata as { checkoutId: string }).checkoutId)).successfulCharges).toEqual({ [intent.id]: 1 });
  });

  it('a processing payment settled as failed sends payment_intent.payment_failed', async () => {
    const intent = await intentNeeding('pm_card_processing');

    await suite.emulator.post(`/_emulator/payment_intents/${intent.id}/settle`, { outcome: 'fail' });

    const event = await webhookFor('payment_intent.payment_failed', intent.id);
    expect(event.data.object).toMatchObject({ status: 'requires_payment_method', last_payment_error: { code: 'card_declined' } });
  });

  it('a processing payment cannot be cancelled: it must settle, then be refunded', async () => {
    const intent = await intentNeeding('pm_card_processing');

    await expect(suite.emulator.stripe.paymentIntents.cancel(intent.id)).rejects.toMatchObject({ code: 'payment_intent_unexpected_state' });
  });
});
