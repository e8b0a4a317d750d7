import Stripe from 'stripe';
import {
  WEBHOOK_SECRET,
  emulatorSuite,
  eventually,
  newCheckoutId,
  startEmulator,
  startWebhookReceiver,
  type WebhookReceiver,
} from './support';

interface EmulatorEvents {
  events: Array<{ event: Stripe.Event; deliveries: Array<{ endpointId: string; state: string; attempts: Array<{ status: number | null }> }> }>;
}

describe('Stripe emulator: webhooks', () => {
  const suite = emulatorSuite();
  const receivers: WebhookReceiver[] = [];
  const endpoints: string[] = [];

  afterEach(async () => {
    for (const id of endpoints.splice(0)) await suite.emulator.stripe.webhookEndpoints.del(id);
    for (const receiver of receivers.splice(0)) await receiver.close();
  });

  const receiverWithEndpoint = async (enabledEvents: Stripe.WebhookEndpointCreateParams.EnabledEvent[] = ['*'], options: { delayMs?: number } = {}) => {
    const receiver = await startWebhookReceiver(options);
    receivers.push(receiver);
    const endpoint = await suite.emulator.stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: enabledEvents });
    endpoints.push(endpoint.id);
    return { receiver, endpoint };
  };

  const payWithVisa = (checkoutId: string) =>
    suite.emulator.stripe.paymentIntents.create(
      { amount: 1200, currency: 'usd', payment_method: 'pm_card_visa', automatic_payment_methods: { enabled: true, allow_redirects: 'never' }, confirm: true, metadata: { checkoutId } },
      { idempotencyKey: `checkout-${checkoutId}:capture` },
    );

  it('an endpoint is created with the configured signing secret and listed without it', async () => {
    const { endpoint } = await receiverWithEndpoint(['payment_intent.succeeded']);

    expect(endpoint).toMatchObject({ object: 'webhook_endpoint', secret: WEBHOOK_SECRET, enabled_events: ['payment_intent.succeeded'], status: 'enabled', livemode: false });
    expect(endpoint.id).toMatch(/^we_/);
    const listed = await suite.emulator.stripe.webhookEndpoints.list();
    const found = listed.data.find((e) => e.id === endpoint.id);
    expect(found).toBeDefined();
    expect(found?.secret).toBeUndefined();
  });

  it('a webhook received by a local server verifies with stripe.webhooks.constructEvent', async () => {
    const { receiver } = await receiverWithEndpoint();
    const checkoutId = newCheckoutId();

    const intent = await payWithVisa(checkoutId);

    const delivered = await receiver.waitFor((w) => w.event.type === 'payment_intent.succeeded' && (w.event.data.object as Stripe.PaymentIntent).id === intent.id);
    const event = suite.emulator.stripe.webhooks.constructEvent(delivered.rawBody, delivered.headers['stripe-signature'] as string, WEBHOOK_SECRET);
    expect(event).toMatchObject({ object: 'event', type: 'payment_intent.succeeded', livemode: false, request: { idempotency_key: `checkout-${checkoutId}:capture` } });
    expect(event.id).toMatch(/^evt_/);
    expect(event.data.object).toMatchObject({ id: intent.id, status: 'succeeded', amount_received: 1200, metadata: { checkoutId } });
    expect(delivered.headers['stripe-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(delivered.headers['content-type']).toMatch(/^application\/json/);
  });

  it('a tampered body or a wrong secret does not verify', async () => {
    const { receiver } = await receiverWithEndpoint(['payment_intent.created']);
    const intent = await payWithVisa(newCheckoutId());
    const delivered = await receiver.waitFor((w) => (w.event.data.object as Stripe.PaymentIntent).id === intent.id);
    const signature = delivered.headers['stripe-signature'] as string;

    const tampered = delivered.rawBody.replace('"amount": 1200', '"amount": 1');
    expect(tampered).not.toBe(delivered.rawBody);
    expect(() => suite.emulator.stripe.webhooks.constructEvent(tampered, signature, WEBHOOK_SECRET)).toThrow(Stripe.errors.StripeSignatureVerificationError);
    expect(() => suite.emulator.stripe.webhooks.constructEvent(delivered.rawBody, signature, 'whsec_someone_else')).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
  });

  it('every state change of a successful payment is announced, each with the object as it was then', async () => {
    const { receiver } = await receiverWithEndpoint();
    const intent = await payWithVisa(newCheckoutId());

    const types = await eventually(() => {
      const mine = receiver.received.filter((w) => [intent.id, intent.latest_charge].includes((w.event.data.object as { id: string }).id));
      return mine.length >= 3 ? mine.map((w) => w.event.type).sort() : undefined;
    });

    expect(types).toEqual(['charge.succeeded', 'payment_intent.created', 'payment_intent.succeeded']);
    const created = receiver.received.find((w) => w.event.type === 'payment_intent.created' && (w.event.data.object as Stripe.PaymentIntent).id === intent.id);
    expect((created?.event.data.object as Stripe.PaymentIntent).status).toBe('requires_confirmation');
  });

  it('an endpoint receives only the events it enabled', async () => {
    const { receiver: chargesOnly } = await receiverWithEndpoint(['charge.succeeded']);
    const { receiver: everything } = await receiverWithEndpoint(['*']);
    const intent = await payWithVisa(newCheckoutId());

    await everything.waitFor((w) => w.event.type === 'payment_intent.succeeded' && (w.event.data.object as Stripe.PaymentIntent).id === intent.id);
    await chargesOnly.waitFor((w) => w.event.type === 'charge.succeeded');

    expect(new Set(chargesOnly.received.map((w) => w.event.type))).toEqual(new Set(['charge.succeeded']));
  });

  it('a receiver answering 5xx is retried with backoff until it answers 2xx', async () => {
    const { receiver, endpoint } = await receiverWithEndpoint(['payment_intent.succeeded']);
    receiver.failNext(500, 503);
    const intent = await payWithVisa(newCheckoutId());

    const deliveries = await eventually(async () => {
      const { events } = await suite.emulator.get<EmulatorEvents>(`/_emulator/events?type=payment_intent.succeeded&payment_intent=${intent.id}`);
      const delivery = events[0]?.deliveries.find((d) => d.endpointId === endpoint.id);
      return delivery?.state === 'delivered' ? delivery : undefined;
    });

    expect(deliveries.attempts.map((a) => a.status)).toEqual([500, 503, 200]);
    const bodies = receiver.received.filter((w) => (w.event.data.object as Stripe.PaymentIntent).id === intent.id);
    expect(new Set(bodies.map((w) => w.event.id)).size).toBe(1);
    expect(bodies).toHaveLength(3);
  });

  it('the API answers without waiting for a slow receiver', async () => {
    const { receiver } = await receiverWithEndpoint(['payment_intent.succeeded'], { delayMs: 1_500 });

    const started = Date.now();
    const intent = await payWithVisa(newCheckoutId());

    expect(Date.now() - started).toBeLessThan(1_000);
    await receiver.waitFor((w) => (w.event.data.object as Stripe.PaymentIntent).id === intent.id);
  });

  it('a deleted endpoint receives nothing more', async () => {
    const { receiver, endpoint } = await receiverWithEndpoint(['payment_intent.created']);
    const deleted = await suite.emulator.stripe.webhookEndpoints.del(endpoint.id);
    endpoints.splice(endpoints.indexOf(endpoint.id), 1);
    expect(deleted).toMatchObject({ id: endpoint.id, deleted: true });

    await payWithVisa(newCheckoutId());
    await new Promise((r) => setTimeout(r, 200));

    expect(receiver.received).toHaveLength(0);
  });

  it('an event can be redelivered, as a duplicate with the same id', async () => {
    const { receiver } = await receiverWithEndpoint(['payment_intent.succeeded']);
    const intent = await payWithVisa(newCheckoutId());
    const first = await receiver.waitFor((w) => (w.event.data.object as Stripe.PaymentIntent).id === intent.id);

    const { status } = await suite.emulator.post(`/_emulator/events/${first.event.id}/redeliver`);

    expect(status).toBe(202);
    await eventually(() => receiver.received.filter((w) => w.event.id === first.event.id).length === 2 || undefined);
  });

  it('Stripe does not promise order: events held and released in reverse arrive newest first, each still verifiable', async () => {
    const { receiver } = await receiverWithEndpoint(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
    await suite.emulator.post('/_emulator/webhooks/hold');
    const intent = await payWithVisa(newCheckoutId());
    expect(receiver.received).toHaveLength(0);

    const { status, body } = await suite.emulator.post<{ deliveries: Array<{ event: string; type: string }> }>('/_emulator/webhooks/release', { order: 'reversed' });

    expect(status).toBe(202);
    expect(body.deliveries.map((d) => d.type)).toEqual(['payment_intent.succeeded', 'charge.succeeded', 'payment_intent.created']);
    const arrived = await eventually(() => (receiver.received.length >= 3 ? receiver.received : undefined));
    expect(arrived.map((w) => w.event.type)).toEqual(['payment_intent.succeeded', 'charge.succeeded', 'payment_intent.created']);
    for (const w of arrived) {
      expect(suite.emulator.stripe.webhooks.constructEvent(w.rawBody, w.headers['stripe-signature'] as string, WEBHOOK_SECRET).id).toBe(w.event.id);
    }
    expect((arrived[0]!.event.data.object as Stripe.PaymentIntent).id).toBe(intent.id);
  });

  it('Stripe delivers at least once: released with times=2, every held event arrives twice with the same id', async () => {
    const { receiver } = await receiverWithEndpoint(['payment_intent.succeeded']);
    await suite.emulator.post('/_emulator/webhooks/hold');
    const intent = await payWithVisa(newCheckoutId());

    await suite.emulator.post('/_emulator/webhooks/release', { times: 2 });

    const arrived = await eventually(() => (receiver.received.length >= 2 ? receiver.received : undefined));
    expect(arrived.map((w) => w.event.id)).toEqual([arrived[0]!.event.id, arrived[0]!.event.id]);
    expect((arrived[0]!.event.data.object as Stripe.PaymentIntent).id).toBe(intent.id);
    // After a release, events go out as they happen again.
    const next = await payWithVisa(newCheckoutId());
    await receiver.waitFor((w) => (w.event.data.object as Stripe.PaymentIntent).id === next.id);
  });

  it('the endpoint given at start receives every event', async () => {
    const receiver = await startWebhookReceiver();
    receivers.push(receiver);
    const booted = await startEmulator({ webhookUrl: receiver.url });
    try {
      const intent = await booted.stripe.paymentIntents.create({ amount: 900, currency: 'usd', automatic_payment_methods: { enabled: true, allow_redirects: 'never' } });
      const delivered = await receiver.waitFor((w) => w.event.type === 'payment_intent.created');
      expect((delivered.event.data.object as Stripe.PaymentIntent).id).toBe(intent.id);
      expect((await booted.stripe.webhookEndpoints.list()).data.map((e) => e.url)).toEqual([receiver.url]);
    } finally {
      await booted.close();
    }
  });
});
