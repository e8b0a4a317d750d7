import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { eq } from 'drizzle-orm';
import type Stripe from 'stripe';
import * as schema from '../../db/schema';
import { createLogger } from '../../src/logger';
import { eventually } from '../ops/support';
import { paymentIntentEvent, signWebhook, startTestApi, startVariantApp, type StatusView, type TestApi } from './support';

describe('POST /webhooks/stripe', () => {
  let api: TestApi;
  let secret: string;
  beforeAll(async () => {
    api = await startTestApi();
    await api.receiveWebhooks();
    secret = api.h.config.STRIPE_WEBHOOK_SECRET;
  });
  afterAll(async () => {
    await api?.h.assertNoChargeWithoutOrderOrRefund();
    await api?.close();
  });

  const deliver = (payload: string, signature?: string, url = api.url) =>
    fetch(`${url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(signature !== undefined ? { 'stripe-signature': signature } : {}) },
      body: payload,
    });

  const recorded = async (eventId: string) => api.h.db.select().from(schema.stripeEvents).where(eq(schema.stripeEvents.id, eventId));

  async function intentOf(checkoutId: string): Promise<Stripe.PaymentIntent> {
    const [intent] = await api.h.emulator.intentsFor(checkoutId);
    if (!intent) throw new Error(`no payment intent for ${checkoutId}`);
    return intent;
  }

  describe('refuses anything it cannot trust with 400, and records none of it', () => {
    it('a forged signature (another secret)', async () => {
      const { id, payload } = paymentIntentEvent('payment_intent.succeeded', { id: 'pi_forged', status: 'succeeded' });
      const res = await deliver(payload, signWebhook(payload, 'whsec_not_the_real_secret'));

      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ type: 'urn:checkout-saga:problem:webhook-signature-invalid', status: 400 });
      expect(await recorded(id)).toHaveLength(0);
    });

    it('a body changed after signing', async () => {
      const { id, payload } = paymentIntentEvent('payment_intent.succeeded', { id: 'pi_tampered', status: 'succeeded', amount: 100 });
      const signature = signWebhook(payload, secret);
      const res = await deliver(payload.replace('"amount":100', '"amount":1'), signature);

      expect(res.status).toBe(400);
      expect(await recorded(id)).toHaveLength(0);
    });

    it('a stale delivery, signed more than five minutes ago', async () => {
      const { id, payload } = paymentIntentEvent('payment_intent.succeeded', { id: 'pi_stale', status: 'succeeded' });
      const sixMinutesAgo = Math.floor(Date.now() / 1000) - 6 * 60;
      const res = await deliver(payload, signWebhook(payload, secret, sixMinutesAgo));

      expect(res.status).toBe(400);
      expect(await recorded(id)).toHaveLength(0);
    });

    it('a missing signature header', async () => {
      const { payload } = paymentIntentEvent('payment_intent.succeeded', { id: 'pi_unsigned', status: 'succeeded' });
      const res = await deliver(payload);
      expect(res.status).toBe(400);
    });

    it('a signed body that is not JSON', async () => {
      const payload = 'not json at all';
      const res = await deliver(payload, signWebhook(payload, secret));
      expect(res.status).toBe(400);
    });
  });

  it('answers 400 problem+json to a signed body that is not shaped like a Stripe event, and logs it without its payload', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const variant = await startVariantApp(api, { logger: createLogger(sink, { level: 'info' }) });
    const evt = () => `evt_test_${randomUUID().replace(/-/g, '')}`;
    const intent = { id: 'pi_shape', object: 'payment_intent', status: 'succeeded', client_secret: 'pi_shape_secret_dontlogme', metadata: {} };
    const cases: [what: string, body: unknown, field: string][] = [
      ['an empty object', {}, 'id'],
      ['null', null, 'event'],
      ['an array', [], 'event'],
      ['no data', { id: evt(), object: 'event', type: 'payment_intent.succeeded' }, 'data'],
      ['no data.object', { id: evt(), object: 'event', type: 'payment_intent.succeeded', data: {} }, 'data.object'],
      ['data.object a string', { id: evt(), object: 'event', type: 'payment_intent.succeeded', data: { object: 'pi_shape' } }, 'data.object'],
      ['a numeric id', { id: 42, object: 'event', type: 'payment_intent.succeeded', data: { object: intent } }, 'id'],
      ['a type that is not a string', { id: evt(), object: 'event', type: ['payment_intent.succeeded'], data: { object: intent } }, 'type'],
      ['a NUL in the event id', { id: `${evt()}\u0000`, object: 'event', type: 'payment_intent.succeeded', data: { object: intent } }, 'id'],
      ['an intent without an id', { id: evt(), object: 'event', type: 'payment_intent.succeeded', data: { object: { ...intent, id: undefined } } }, 'data.object.id'],
      ['a NUL in the intent id', { id: evt(), object: 'event', type: 'payment_intent.succeeded', data: { object: { ...intent, id: 'pi_\u0000x' } } }, 'data.object.id'],
      ['a numeric intent status', { id: evt(), object: 'event', type: 'payment_intent.succeeded', data: { object: { ...intent, status: 7 } } }, 'data.object.status'],
      ['a payment error that is a string', { id: evt(), object: 'event', type: 'payment_intent.payment_failed', data: { object: { ...intent, status: 'requires_payment_method', last_payment_error: 'declined' } } }, 'data.object.last_payment_error'],
      ['a charge whose payment_intent is a number', { id: evt(), object: 'event', type: 'charge.refunded', data: { object: { id: 'ch_shape', object: 'charge', payment_intent: 12 } } }, 'data.object.payment_intent'],
    ];
    try {
      for (const [what, body, field] of cases) {
        const payload = JSON.stringify(body);
        const res = await deliver(payload, signWebhook(payload, secret), variant.url);
        const problem = (await res.json()) as { type: string; status: number; errors: { field: string }[] };
        expect({ what, status: res.status, contentType: res.headers.get('content-type') }).toEqual({ what, status: 400, contentType: expect.stringMatching(/^application\/problem\+json/) });
        expect({ what, type: problem.type, fields: problem.errors.map((e) => e.field) }).toEqual({ what, type: 'urn:checkout-saga:problem:webhook-event-malformed', fields: expect.arrayContaining([field]) });
      }
    } finally {
      await variant.close();
    }

    const refused = lines.filter((l) => l.msg === 'Stripe event refused: not shaped like a Stripe event');
    expect(refused).toHaveLength(cases.length);
    expect(refused[3]).toMatchObject({ eventType: 'payment_intent.succeeded', stripeEventId: (cases[3]![1] as { id: string }).id, problems: [expect.objectContaining({ field: 'data' })] });
    expect(JSON.stringify(lines)).not.toContain('dontlogme');
  });

  it('records an event carrying characters PostgreSQL cannot store in fields it does not act on, and answers 200', async () => {
    const { id, payload } = paymentIntentEvent('payment_intent.succeeded', { id: `pi_${randomUUID().slice(0, 12)}`, status: 'succeeded' });
    const event = JSON.parse(payload) as { data: { object: Record<string, unknown> } };
    Object.assign(event.data.object, { description: 'Order\u0000 for Ada', metadata: { note: 'half a pair \ud800', shopper: 'Ada \u202eecilA' } });
    const body = JSON.stringify(event);
    const res = await deliver(body, signWebhook(body, secret));

    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id, outcome: 'unknown_intent' });
    const [row] = await recorded(id);
    expect((row!.payload as typeof event).data.object).toMatchObject({ description: 'Order\ufffd for Ada', metadata: { note: 'half a pair \ufffd', shopper: 'Ada \u202eecilA' } });
  });

  it('stores an event without the intent’s client_secret, wherever it appears', async () => {
    const intentId = `pi_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const clientSecret = `${intentId}_secret_${randomUUID().replace(/-/g, '')}`;
    const { id, payload } = paymentIntentEvent('payment_intent.requires_action', { id: intentId, status: 'requires_action' });
    const event = JSON.parse(payload) as { data: { object: Record<string, unknown> } };
    Object.assign(event.data.object, {
      client_secret: clientSecret,
      next_action: {
        type: 'redirect_to_url',
        redirect_to_url: { url: `https://hooks.stripe.com/3d_secure_2/hosted?payment_intent=${intentId}&payment_intent_client_secret=${clientSecret}`, return_url: 'https://shop.example/return' },
      },
    });
    const body = JSON.stringify(event);
    expect((await deliver(body, signWebhook(body, secret))).status).toBe(200);

    const [row] = await recorded(id);
    const stored = row!.payload as typeof event;
    expect(stored.data.object).not.toHaveProperty('client_secret');
    expect(JSON.stringify(stored)).not.toContain(clientSecret);
    expect(stored.data.object).toMatchObject({ id: intentId, status: 'requires_action', next_action: { type: 'redirect_to_url' } });
  });

  it('keeps no client_secret of the emulator’s real events at rest', async () => {
    const sku = await api.h.seedProduct();
    const started = await api.startCheckout(sku);
    const checkoutId = String(started.body.checkoutId);
    await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');
    const intent = await intentOf(checkoutId);
    expect(intent.client_secret).toBeTruthy();

    const rows = await eventually(async () => {
      const stored = await api.h.db.select().from(schema.stripeEvents).where(eq(schema.stripeEvents.paymentIntentId, intent.id));
      return stored.some((e) => e.type === 'payment_intent.succeeded') ? stored : undefined;
    }, 'the payment_intent.succeeded webhook');
    for (const row of rows) expect(JSON.stringify(row.payload)).not.toContain(intent.client_secret!);
  });

  it('accepts a delivery signed four minutes ago (inside the tolerance)', async () => {
    const { id, payload } = paymentIntentEvent('payment_intent.created', { id: `pi_${randomUUID().slice(0, 8)}`, status: 'requires_payment_method' });
    const res = await deliver(payload, signWebhook(payload, secret, Math.floor(Date.now() / 1000) - 4 * 60));

    expect(res.status).toBe(200);
    expect(await recorded(id)).toHaveLength(1);
  });

  it('records an event for a payment intent no checkout owns as unknown_intent, and still answers 200', async () => {
    const { id, payload } = paymentIntentEvent('payment_intent.succeeded', { id: `pi_${randomUUID().slice(0, 12)}`, status: 'succeeded' });
    const res = await deliver(payload, signWebhook(payload, secret));

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, id, outcome: 'unknown_intent' });
    expect(await recorded(id)).toMatchObject([{ id, type: 'payment_intent.succeeded', outcome: 'unknown_intent', checkoutId: null }]);
  });

  it('treats metadata naming a checkout that does not exist as an unknown intent', async () => {
    const { id, payload } = paymentIntentEvent('payment_intent.succeeded', { id: 'pi_other_system', status: 'succeeded', checkoutId: randomUUID() });
    const res = await deliver(payload, signWebhook(payload, secret));

    expect(await res.json()).toMatchObject({ outcome: 'unknown_intent' });
    expect(await recorded(id)).toMatchObject([{ checkoutId: null }]);
  });

  it('routes the emulator’s real 3-D Secure webhook to the waiting checkout, which completes', async () => {
    const sku = await api.h.seedProduct();
    const started = await api.startCheckout(sku, { paymentMethodId: 'pm_card_authenticationRequired' });
    const checkoutId = String(started.body.checkoutId);
    await api.waitForStatus(checkoutId, (v) => v.status === 'REQUIRES_ACTION');
    const intent = await intentOf(checkoutId);
    await api.h.emulator.authenticate(intent.id, 'succeed');

    await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');
    const events = await api.h.db.select().from(schema.stripeEvents).where(eq(schema.stripeEvents.paymentIntentId, intent.id));
    expect(events.find((e) => e.type === 'payment_intent.succeeded')).toMatchObject({ checkoutId, outcome: 'signalled' });
  });

  it('a failed 3-D Secure, delivered by webhook, ends the checkout FAILED with the stock back', async () => {
    const sku = await api.h.seedProduct({ stock: 2 });
    const started = await api.startCheckout(sku, { paymentMethodId: 'pm_card_authenticationRequired' });
    const checkoutId = String(started.body.checkoutId);
    await api.waitForStatus(checkoutId, (v) => v.status === 'REQUIRES_ACTION');
    await api.h.emulator.authenticate((await intentOf(checkoutId)).id, 'fail');

    const done = await api.waitForStatus(checkoutId, (v) => v.status === 'FAILED');
    expect(done.failure?.code).toBe('PAYMENT_AUTHENTICATION_FAILED');
    expect(await api.h.stock(sku)).toBe(2);
  });

  it('acknowledges a duplicate delivery with 200 and does nothing with it', async () => {
    const sku = await api.h.seedProduct();
    const started = await api.startCheckout(sku, { paymentMethodId: 'pm_card_processing' });
    const checkoutId = String(started.body.checkoutId);
    await api.waitForStatus(checkoutId, (v) => v.payment.status === 'processing');
    const intent = await intentOf(checkoutId);
    await api.h.emulator.settle(intent.id, 'succeed');
    await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');

    // The very event the emulator delivered, delivered again (Stripe retries on any doubt).
    const original = await emulatorEvent(intent.id, 'payment_intent.succeeded');
    const payload = JSON.stringify(original);
    const again = await deliver(payload, signWebhook(payload, secret));
    const thrice = await deliver(payload, signWebhook(payload, secret));

    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ id: original.id, outcome: 'duplicate' });
    expect(thrice.status).toBe(200);
    expect(await recorded(original.id)).toMatchObject([{ outcome: 'signalled', checkoutId }]);
  });

  it('a late payment_intent.processing after the payment succeeded changes nothing', async () => {
    const sku = await api.h.seedProduct();
    const started = await api.startCheckout(sku, { paymentMethodId: 'pm_card_processing' });
    const checkoutId = String(started.body.checkoutId);
    await api.waitForStatus(checkoutId, (v) => v.payment.status === 'processing');
    const intent = await intentOf(checkoutId);
    await api.h.emulator.settle(intent.id, 'succeed');
    const completed = await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');

    const late = paymentIntentEvent('payment_intent.processing', { id: intent.id, status: 'processing', checkoutId });
    const res = await deliver(late.payload, signWebhook(late.payload, secret));
    const after = await api.request<StatusView>('GET', `/api/checkouts/${checkoutId}`);

    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: 'workflow_closed' });
    expect(after.body).toMatchObject({ status: 'COMPLETED', payment: { status: 'succeeded' }, version: completed.version });
  });

  it('out-of-order events while the payment waits change nothing until the final one arrives', async () => {
    const sku = await api.h.seedProduct({ stock: 3 });
    const started = await api.startCheckout(sku, { paymentMethodId: 'pm_card_authenticationRequired' });
    const checkoutId = String(started.body.checkoutId);
    const waiting = await api.waitForStatus(checkoutId, (v) => v.status === 'REQUIRES_ACTION');
    const intent = await intentOf(checkoutId);

    // Older events of this very intent, arriving late: created with its card attached, then the challenge.
    for (const [type, status] of [
      ['payment_intent.requires_action', 'requires_action'],
      ['payment_intent.created', 'requires_confirmation'],
      ['payment_intent.processing', 'processing'],
    ] as const) {
      const event = paymentIntentEvent(type, { id: intent.id, status, checkoutId });
      const res = await deliver(event.payload, signWebhook(event.payload, secret));
      expect(await res.json()).toMatchObject({ outcome: 'signalled' });
    }
    const still = await api.request<StatusView>('GET', `/api/checkouts/${checkoutId}`);
    expect(still.body).toMatchObject({ status: 'REQUIRES_ACTION', version: waiting.version });

    await api.h.emulator.authenticate(intent.id, 'succeed');
    await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');
    expect(await api.h.stock(sku)).toBe(2);
  });

  describe('charge events', () => {
    it('records charge.refunded and charge.dispute.created and hands them to the charge handler', async () => {
      const seen: Stripe.Event[] = [];
      const variant = await startVariantApp(api, { onChargeEvent: async (event) => void seen.push(event) });
      try {
        const sku = await api.h.seedProduct();
        const started = await api.startCheckout(sku);
        const checkoutId = String(started.body.checkoutId);
        await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');
        const intent = await intentOf(checkoutId);

        const refunded = chargeEvent('charge.refunded', { object: 'charge', id: `ch_${randomUUID().slice(0, 8)}`, payment_intent: intent.id, amount_refunded: 1250, metadata: {} });
        const disputed = chargeEvent('charge.dispute.created', { object: 'dispute', id: `dp_${randomUUID().slice(0, 8)}`, payment_intent: intent.id, charge: 'ch_x', amount: 1250, reason: 'fraudulent' });
        for (const event of [refunded, disputed]) {
          const res = await deliver(event.payload, signWebhook(event.payload, secret), variant.url);
          expect(res.status).toBe(200);
          expect(await res.json()).toMatchObject({ outcome: 'handled' });
        }

        expect(seen.map((e) => e.type)).toEqual(['charge.refunded', 'charge.dispute.created']);
        // The owner is found from the payment intent we recorded when the order was confirmed.
        expect(await recorded(refunded.id)).toMatchObject([{ type: 'charge.refunded', outcome: 'handled', checkoutId, paymentIntentId: intent.id }]);
      } finally {
        await variant.close();
      }
    });

    it('without a charge handler, records the event and answers 200', async () => {
      const event = chargeEvent('charge.refunded', { object: 'charge', id: 'ch_unhandled', payment_intent: 'pi_unknown', metadata: {} });
      const res = await deliver(event.payload, signWebhook(event.payload, secret));

      expect(await res.json()).toMatchObject({ outcome: 'recorded' });
    });

    it('answers 5xx when the handler fails, so Stripe retries; the retry is processed, not dropped as a duplicate', async () => {
      let calls = 0;
      const variant = await startVariantApp(api, {
        onChargeEvent: async () => {
          calls += 1;
          if (calls === 1) throw new Error('refund workflow could not be started');
        },
      });
      try {
        const event = chargeEvent('charge.refunded', { object: 'charge', id: 'ch_flaky', payment_intent: 'pi_flaky', metadata: {} });
        const first = await deliver(event.payload, signWebhook(event.payload, secret), variant.url);
        const retry = await deliver(event.payload, signWebhook(event.payload, secret), variant.url);

        expect(first.status).toBe(500);
        expect(retry.status).toBe(200);
        expect(await retry.json()).toMatchObject({ outcome: 'handled' });
        expect(calls).toBe(2);
      } finally {
        await variant.close();
      }
    });
  });

  it('ignores event types it does not act on, with 200', async () => {
    const event = chargeEvent('customer.created', { object: 'customer', id: 'cus_123', metadata: {} });
    const res = await deliver(event.payload, signWebhook(event.payload, secret));
    expect(await res.json()).toMatchObject({ outcome: 'ignored' });
  });

  async function emulatorEvent(paymentIntentId: string, type: string): Promise<Stripe.Event> {
    const res = await fetch(`${api.h.config.STRIPE_API_URL}/_emulator/events?type=${type}&payment_intent=${paymentIntentId}`);
    const { events } = (await res.json()) as { events: { event: Stripe.Event }[] };
    if (!events[0]) throw new Error(`the emulator sent no ${type} for ${paymentIntentId}`);
    return events[0].event;
  }
});

function chargeEvent(type: string, object: Record<string, unknown>): { id: string; payload: string } {
  const id = `evt_test_${randomUUID().replace(/-/g, '')}`;
  return {
    id,
    payload: JSON.stringify({ id, object: 'event', api_version: '2025-01-27.acacia', created: Math.floor(Date.now() / 1000), livemode: false, type, data: { object } }),
  };
}
