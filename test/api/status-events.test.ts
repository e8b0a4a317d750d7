import { Client, Connection } from '@temporalio/client';
import { and, asc, eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import { connectDatabase } from '../../db/client';
import { listenForStatusChanges } from '../../src/application/checkouts/status-feed';
import { logger } from '../../src/logger';
import { paymentEventSignal, checkoutWorkflowId } from '../../src/workflows/checkout/contract';
import { openEventStream } from './event-stream';
import { closedPort, startTestApi, startVariantApp, type StatusView, type TestApi } from './support';

/**
 * A buyer's page follows its checkout as it happens: Server-Sent Events from the saga's change
 * feed, a long-poll answered from the same feed, a POST that can wait for the payment's decision.
 * None of it asks the workflow, so it works the same from any API instance, and with no Temporal.
 */
describe('following a checkout', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api?.close();
  });

  const eventsUrl = (base: string, checkoutId: string) => `${base}/api/checkouts/${checkoutId}/events`;
  const secretHeader = (checkoutId: string) => ({ 'Checkout-Secret': api.secretOf(checkoutId)! });
  const feedVersions = async (checkoutId: string) =>
    (
      await api.h.db
        .select({ version: schema.checkoutStatusChanges.version })
        .from(schema.checkoutStatusChanges)
        .where(eq(schema.checkoutStatusChanges.checkoutId, checkoutId))
        .orderBy(asc(schema.checkoutStatusChanges.version))
    ).map((r) => r.version);

  async function started(paymentMethodId = 'pm_card_visa'): Promise<string> {
    const sku = await api.h.seedProduct({ stock: 5, priceMinor: 1200 });
    const res = await api.startCheckout(sku, { paymentMethodId });
    expect(res.status).toBe(202);
    return String(res.body.checkoutId);
  }

  describe('GET /api/checkouts/:id/events', () => {
    it('sends every status change as the JSON of GET, its version as the id, and ends with the checkout', async () => {
      const checkoutId = await started();
      const stream = await openEventStream(eventsUrl(api.url, checkoutId), secretHeader(checkoutId));
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(stream.headers.get('cache-control')).toBe('no-store');

      const events = await stream.rest();
      const views = events.map((e) => JSON.parse(e.data) as StatusView);
      const last = views.at(-1)!;
      expect(last).toMatchObject({ checkoutId, status: 'COMPLETED', payment: { status: 'succeeded' }, sso: { redirectUrl: expect.any(String) } });
      expect(events.map((e) => Number(e.id))).toEqual(views.map((v) => v.version));
      const ids = events.map((e) => Number(e.id));
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      expect(new Set(ids).size).toBe(ids.length);
      // Every change after the first one the stream saw, none skipped.
      expect(ids.slice(1)).toEqual((await feedVersions(checkoutId)).filter((v) => v > ids[0]!));
      // The last event is exactly what GET answers now.
      const get = await api.request<StatusView>('GET', `/api/checkouts/${checkoutId}`);
      expect(get.headers.get('x-status-source')).toBe('feed');
      expect(last).toEqual({ ...get.body, sso: expect.any(Object) });
    });

    it('resumes after Last-Event-ID with every change it missed, and answers 204 once the client has the ending', async () => {
      const checkoutId = await started();
      const first = await openEventStream(eventsUrl(api.url, checkoutId), secretHeader(checkoutId));
      const seen = await first.next();
      first.close();
      if ('end' in seen) throw new Error('the stream ended before its first event');
      await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');

      const resumed = await openEventStream(eventsUrl(api.url, checkoutId), { ...secretHeader(checkoutId), 'Last-Event-ID': seen.id! });
      const missed = await resumed.rest();
      expect(missed.map((e) => Number(e.id))).toEqual((await feedVersions(checkoutId)).filter((v) => v > Number(seen.id)));
      expect(JSON.parse(missed.at(-1)!.data)).toMatchObject({ status: 'COMPLETED' });

      const after = await openEventStream(eventsUrl(api.url, checkoutId), { ...secretHeader(checkoutId), 'Last-Event-ID': missed.at(-1)!.id! });
      expect(after.status).toBe(204);
      expect(await after.rest()).toEqual([]);
    });

    it('keeps a waiting checkout’s stream open with heartbeats, and sends the challenge and its outcome', async () => {
      const quiet = await startVariantApp(api, {
        config: { ...api.h.config, STATUS_EVENTS_HEARTBEAT_MS: 300 },
        statusFeed: listenForStatusChanges(api.h.database.sql, logger),
      });
      try {
        const checkoutId = await started('pm_card_authenticationRequired');
        const stream = await openEventStream(eventsUrl(quiet.url, checkoutId), secretHeader(checkoutId));
        let challenge: StatusView | undefined;
        while (!challenge) {
          const item = await stream.next();
          if ('end' in item) throw new Error('the stream ended before the challenge');
          const view = JSON.parse(item.data) as StatusView;
          if (view.status === 'REQUIRES_ACTION') challenge = view;
        }
        expect(challenge.payment).toEqual({ status: 'requires_action', clientSecret: expect.stringMatching(/^pi_.+_secret_/), nextActionUrl: expect.stringMatching(/\/_emulator\/3ds\/pi_/) });
        await waitUntil(() => stream.comments() >= 2);

        const intentId = challenge.payment.nextActionUrl!.match(/(pi_\w+)/)![1]!;
        await api.h.emulator.authenticate(intentId, 'succeed');
        await api.h.deliverPaymentWebhook(checkoutId, intentId);
        const rest = (await stream.rest()).map((e) => JSON.parse(e.data) as StatusView);
        expect(rest.at(-1)).toMatchObject({ status: 'COMPLETED' });
        // Once the challenge is over, its secret is no longer handed out.
        expect(rest.filter((v) => v.status !== 'REQUIRES_ACTION').every((v) => v.payment.clientSecret === undefined)).toBe(true);
      } finally {
        await quiet.close();
      }
    });

    it('ends a stream that outlives STATUS_EVENTS_MAX_STREAM_MS; the client resumes with Last-Event-ID and misses nothing', async () => {
      const brief = await startVariantApp(api, {
        config: { ...api.h.config, STATUS_EVENTS_MAX_STREAM_MS: 1_000 },
        statusFeed: listenForStatusChanges(api.h.database.sql, logger),
      });
      try {
        const checkoutId = await started('pm_card_authenticationRequired');
        const seen: number[] = [];
        let lastEventId: string | undefined;
        let challenge: StatusView | undefined;
        /** One connection as an EventSource makes it; false once the server says the client has the ending (204). */
        const follow = async (): Promise<boolean> => {
          const stream = await openEventStream(eventsUrl(brief.url, checkoutId), { ...secretHeader(checkoutId), ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) });
          if (stream.status === 204) return false;
          // Ended by the server after its lifetime: 200 and an end, never the 204 that stops an EventSource.
          expect(stream.status).toBe(200);
          for (const event of await stream.rest(15_000)) {
            seen.push(Number(event.id));
            lastEventId = event.id;
            const view = JSON.parse(event.data) as StatusView;
            if (view.status === 'REQUIRES_ACTION') challenge ??= view;
          }
          return true;
        };
        for (let i = 0; i < 30 && !challenge; i++) await follow();
        // A stream ended with the checkout still waiting on its buyer: the server ended it, not the checkout.
        expect(await follow()).toBe(true);

        const intentId = challenge!.payment.nextActionUrl!.match(/(pi_\w+)/)![1]!;
        await api.h.emulator.authenticate(intentId, 'succeed');
        await api.h.deliverPaymentWebhook(checkoutId, intentId);
        for (let i = 0; i < 30 && (await follow()); i++);
        const final = await api.request<StatusView>('GET', `/api/checkouts/${checkoutId}`, { headers: secretHeader(checkoutId) });
        expect(final.body.status).toBe('COMPLETED');
        // Every version once, in order, up to the ending.
        expect(seen).toEqual([...new Set(seen)].sort((a, b) => a - b));
        expect(seen.at(-1)).toBe(final.body.version);
      } finally {
        await brief.close();
      }
    });

    it('follows a checkout from another API instance, even one that cannot reach Temporal at all', async () => {
      const otherDatabase = connectDatabase(api.h.config.DATABASE_URL, 2);
      const unreachable = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${await closedPort()}` }), namespace: api.h.config.TEMPORAL_NAMESPACE });
      const feed = listenForStatusChanges(otherDatabase.sql, logger);
      const other = await startVariantApp(api, { db: otherDatabase.db, temporal: unreachable, statusFeed: feed });
      try {
        const checkoutId = await started();
        const stream = await openEventStream(eventsUrl(other.url, checkoutId), secretHeader(checkoutId));
        const views = (await stream.rest()).map((e) => JSON.parse(e.data) as StatusView);
        expect(views.at(-1)).toMatchObject({ status: 'COMPLETED' });

        const longPoll = await fetch(`${other.url}/api/checkouts/${checkoutId}?waitForChangeMs=1000`, { headers: secretHeader(checkoutId) });
        expect(longPoll.status).toBe(200);
        expect(longPoll.headers.get('x-status-source')).toBe('feed');
      } finally {
        await other.close();
        await feed.close();
        await unreachable.connection.close();
        await otherDatabase.close();
      }
    });

    it('answers 404 to a stranger and 400 to a Last-Event-ID that is no version', async () => {
      const checkoutId = await started();
      const stranger = await fetch(eventsUrl(api.url, checkoutId));
      const badId = await fetch(eventsUrl(api.url, checkoutId), { headers: { ...secretHeader(checkoutId), 'Last-Event-ID': 'yesterday' } });

      expect(stranger.status).toBe(404);
      expect(await stranger.json()).toMatchObject({ type: 'urn:checkout-saga:problem:checkout-not-found' });
      expect(badId.status).toBe(400);
      expect(await badId.json()).toMatchObject({ errors: [expect.objectContaining({ field: 'lastEventId' })] });
    });
  });

  describe('GET /api/checkouts/:id?waitForChangeMs', () => {
    it('answers each change from the feed, never from a workflow query', async () => {
      const checkoutId = await started('pm_card_authenticationRequired');
      const waiting = await api.waitForStatus(checkoutId, (v) => v.status === 'REQUIRES_ACTION');
      const pending = api.request<StatusView>('GET', `/api/checkouts/${checkoutId}?waitForChangeMs=20000&sinceVersion=${waiting.version}`);
      const intentId = waiting.payment.nextActionUrl!.match(/(pi_\w+)/)![1]!;
      await api.h.emulator.authenticate(intentId, 'succeed');
      await api.h.deliverPaymentWebhook(checkoutId, intentId);

      const moved = await pending;
      expect(moved.headers.get('x-status-source')).toBe('feed');
      expect(moved.body.version).toBeGreaterThan(waiting.version!);
      expect(moved.body.status).not.toBe('REQUIRES_ACTION');
    });
  });

  describe('POST /api/checkouts with Prefer: wait', () => {
    it('answers 201 with the payment decided for a card that needs nothing more', async () => {
      const sku = await api.h.seedProduct({ stock: 2, priceMinor: 900 });
      const res = await api.startCheckout(sku, {}, { Prefer: 'wait=10' });

      expect(res.status).toBe(201);
      expect(res.headers.get('location')).toBe(`/api/checkouts/${String(res.body.checkoutId)}`);
      expect(res.headers.get('vary')).toMatch(/Prefer/);
      expect(res.body).toMatchObject({ checkoutId: expect.any(String), checkoutSecret: expect.any(String), statusUrl: expect.any(String) });
      expect((res.body.checkout as StatusView).payment.status).toBe('succeeded');
      expect(res.body.status).toBe((res.body.checkout as StatusView).status);
    });

    it('answers 201 with the challenge for a card that needs 3-D Secure', async () => {
      const sku = await api.h.seedProduct({ stock: 2 });
      const res = await api.startCheckout(sku, { paymentMethodId: 'pm_card_authenticationRequired' }, { Prefer: 'respond-async, wait=10' });

      expect(res.status).toBe(201);
      expect(res.body.checkout).toMatchObject({ status: 'REQUIRES_ACTION', payment: { status: 'requires_action', clientSecret: expect.any(String), nextActionUrl: expect.any(String) } });
    });

    it('keeps the plain 202 without the preference, or with one it cannot honour', async () => {
      const sku = await api.h.seedProduct({ stock: 3 });
      const plain = await api.startCheckout(sku);
      const zero = await api.startCheckout(sku, {}, { Prefer: 'wait=0' });
      const nonsense = await api.startCheckout(sku, {}, { Prefer: 'wait=soon' });

      for (const res of [plain, zero, nonsense]) {
        expect(res.status).toBe(202);
        expect(res.body.checkout).toBeUndefined();
        expect(res.body.status).toBe('PENDING');
      }
    });
  });

  describe('Stripe webhooks while nobody waits for them', () => {
    it('a card paid at once is not signalled: its saga knew from the confirm', async () => {
      await api.receiveWebhooks();
      const checkoutId = await started();
      await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');
      const [intent] = await api.h.emulator.intentsFor(checkoutId);
      const row = await waitUntil(async () => {
        const [r] = await api.h.db
          .select()
          .from(schema.stripeEvents)
          .where(and(eq(schema.stripeEvents.paymentIntentId, intent!.id), eq(schema.stripeEvents.type, 'payment_intent.succeeded')));
        return r && r.outcome !== 'received' ? r : undefined;
      });
      expect(row.outcome).toBe('not_awaited');
      const history = await api.h.client.workflow.getHandle(checkoutWorkflowId(checkoutId)).fetchHistory();
      const signals = (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === paymentEventSignal.name);
      expect(signals).toEqual([]);
    });
  });
});

async function waitUntil<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
