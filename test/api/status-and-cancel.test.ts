import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import { startTestApi, type StatusView, type TestApi } from './support';

describe('checkout status and cancel', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
    // 3-D Secure completes through the emulator's signed webhook to this API.
    await api.receiveWebhooks();
  });
  afterAll(async () => {
    await api?.h.assertNoChargeWithoutOrderOrRefund();
    await api?.close();
  });

  /** A checkout parked in REQUIRES_ACTION: the saga waits for 3-D Secure, so nothing moves on its own. */
  async function waitingFor3ds(stock = 5): Promise<{ sku: string; checkoutId: string; view: StatusView }> {
    const sku = await api.h.seedProduct({ stock, priceMinor: 3000 });
    const res = await api.startCheckout(sku, { paymentMethodId: 'pm_card_authenticationRequired' });
    const checkoutId = String(res.body.checkoutId);
    const view = await api.waitForStatus(checkoutId, (v) => v.status === 'REQUIRES_ACTION');
    return { sku, checkoutId, view };
  }

  async function paymentIntentOf(checkoutId: string): Promise<string> {
    const [intent] = await api.h.emulator.intentsFor(checkoutId);
    if (!intent) throw new Error(`no payment intent for ${checkoutId}`);
    return intent.id;
  }

  describe('GET /api/checkouts/:id', () => {
    it('shows a completed checkout in the documented shape, with a one-time login link, and never cached', async () => {
      const sku = await api.h.seedProduct({ priceMinor: 1800 });
      const started = await api.startCheckout(sku, { items: [{ sku, quantity: 2 }] });
      const checkoutId = String(started.body.checkoutId);
      await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');
      const res = await api.request<StatusView>('GET', `/api/checkouts/${checkoutId}`);

      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-status-source')).toBe('feed');
      expect(res.body).toEqual({
        checkoutId,
        status: 'COMPLETED',
        step: 'confirmOrder',
        orderId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        amount: 3600,
        currency: 'EUR',
        payment: { status: 'succeeded' },
        sso: { redirectUrl: expect.stringMatching(new RegExp(`^${api.url}/sso/callback\\?token=[\\w-]+$`)) },
        compensations: [],
        updatedAt: expect.any(String),
        version: expect.any(Number),
      });
    });

    it('shows a failed checkout with its failure code and what was undone', async () => {
      const sku = await api.h.seedProduct({ stock: 4 });
      const started = await api.startCheckout(sku, { paymentMethodId: 'pm_card_chargeDeclined' });
      const view = await api.waitForStatus(String(started.body.checkoutId), (v) => v.status === 'FAILED');

      expect(view.failure).toEqual({ code: 'PAYMENT_DECLINED', message: expect.any(String) });
      expect(view.sso).toBeUndefined();
      expect(view.compensations.map((c) => [c.name, c.status])).toEqual([
        ['refundPayment', 'done'],
        ['releaseStock', 'done'],
      ]);
      expect(JSON.stringify(view.compensations)).not.toContain('error');
      expect(await api.h.stock(sku)).toBe(4);
    });

    it('answers 404 for an unknown id, and for something that is not an id', async () => {
      const unknown = await api.request('GET', '/api/checkouts/1b4e28ba-2fa1-41d2-883f-0016d3cca427');
      const malformed = await api.request('GET', "/api/checkouts/'%20or%201=1");

      expect(unknown.status).toBe(404);
      expect(unknown.body).toMatchObject({ type: 'urn:checkout-saga:problem:checkout-not-found', status: 404 });
      expect(malformed.status).toBe(404);
      expect(malformed.body).toMatchObject({ detail: 'There is no checkout with this id.' });
    });

    it('shows the 3-D Secure challenge URL while the payment waits for the customer', async () => {
      const { view } = await waitingFor3ds();

      expect(view.payment.status).toBe('requires_action');
      expect(view.payment.nextActionUrl).toMatch(/\/_emulator\/3ds\/pi_/);
      expect(view.payment.clientSecret).toMatch(/^pi_.+_secret_/);
    });

    it('rejects a bad waitForChangeMs', async () => {
      const id = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';
      const tooLong = await api.request('GET', `/api/checkouts/${id}?waitForChangeMs=60000`);
      const negative = await api.request('GET', `/api/checkouts/${id}?waitForChangeMs=-1`);
      const text = await api.request('GET', `/api/checkouts/${id}?waitForChangeMs=soon`);

      expect([tooLong.status, negative.status, text.status]).toEqual([400, 400, 400]);
      expect(tooLong.body).toMatchObject({ errors: [{ field: 'waitForChangeMs', message: 'must be at most 30000' }] });
    });

    describe('long-poll with waitForChangeMs', () => {
      it('waits the given time when nothing changes, then answers with the same state', async () => {
        const { checkoutId, view } = await waitingFor3ds();
        const started = Date.now();
        const res = await api.request<StatusView>('GET', `/api/checkouts/${checkoutId}?waitForChangeMs=1500&sinceVersion=${view.version}`);

        expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
        expect(res.body.status).toBe('REQUIRES_ACTION');
        expect(res.body.version).toBe(view.version);
      });

      it('answers as soon as the checkout moves on', async () => {
        const { checkoutId, view } = await waitingFor3ds();
        const started = Date.now();
        const poll = api.request<StatusView>('GET', `/api/checkouts/${checkoutId}?waitForChangeMs=20000&sinceVersion=${view.version}`);
        setTimeout(() => void paymentIntentOf(checkoutId).then((pi) => api.h.emulator.authenticate(pi, 'succeed')), 300);
        const res = await poll;

        expect(Date.now() - started).toBeLessThan(10_000);
        expect(res.body.version).not.toBe(view.version);
        expect(res.body.status).not.toBe('REQUIRES_ACTION');
        await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');
      });

      it('answers at once when the client is already behind', async () => {
        const { checkoutId, view } = await waitingFor3ds();
        const started = Date.now();
        const res = await api.request<StatusView>('GET', `/api/checkouts/${checkoutId}?waitForChangeMs=20000&sinceVersion=${view.version! - 1}`);

        expect(Date.now() - started).toBeLessThan(2_000);
        expect(res.body.version).toBe(view.version);
      });
    });

    it('keeps answering from the change feed while the worker is stopped, and the saga finishes once it is back', async () => {
      const { checkoutId } = await waitingFor3ds();
      const paymentIntentId = await paymentIntentOf(checkoutId);
      await api.h.stopWorker();
      try {
        const started = Date.now();
        const res = await api.request<StatusView>('GET', `/api/checkouts/${checkoutId}`);

        expect(res.status).toBe(200);
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(res.headers.get('x-status-source')).toBe('feed');
        // The saga's last report says all the workflow would: the challenge, its link from Stripe.
        expect(res.body).toMatchObject({ checkoutId, status: 'REQUIRES_ACTION', amount: 3000, currency: 'EUR', payment: { status: 'requires_action', nextActionUrl: expect.any(String) } });

        // The bank answers while no worker runs: the webhook still reaches the workflow as a signal.
        await api.h.emulator.authenticate(paymentIntentId, 'succeed');
        await waitForStripeEvent(paymentIntentId, 'payment_intent.succeeded');
      } finally {
        await api.h.startWorker();
      }
      const done = await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');
      expect(done.payment.status).toBe('succeeded');
    });
  });

  describe('POST /api/checkouts/:id/cancel', () => {
    it('accepts a cancel while the payment waits, then undoes everything and ends CANCELLED', async () => {
      const { sku, checkoutId } = await waitingFor3ds(5);
      expect(await api.h.stock(sku)).toBe(4);
      const res = await api.request('POST', `/api/checkouts/${checkoutId}/cancel`, { json: { reason: 'Changed my mind' } });

      expect(res.status).toBe(202);
      expect(res.body).toEqual({ checkoutId, status: 'REQUIRES_ACTION', statusUrl: `/api/checkouts/${checkoutId}` });
      const done = await api.waitForStatus(checkoutId, (v) => v.status === 'CANCELLED');
      expect(done.failure).toEqual({ code: 'CANCELLED', message: 'Changed my mind' });
      expect(await api.h.stock(sku)).toBe(5);
      const [intent] = await api.h.emulator.intentsFor(checkoutId);
      expect(intent!.status).toBe('canceled');
    });

    it('accepts a cancel without a body', async () => {
      const { checkoutId } = await waitingFor3ds();
      const res = await api.request('POST', `/api/checkouts/${checkoutId}/cancel`);

      expect(res.status).toBe(202);
      const done = await api.waitForStatus(checkoutId, (v) => v.status === 'CANCELLED');
      expect(done.failure?.message).toBe('Cancelled by the customer');
    });

    it('refuses with 409 once the checkout has completed', async () => {
      const sku = await api.h.seedProduct();
      const started = await api.startCheckout(sku);
      const checkoutId = String(started.body.checkoutId);
      await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');
      const res = await api.request('POST', `/api/checkouts/${checkoutId}/cancel`, { json: {} });

      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({
        type: 'urn:checkout-saga:problem:checkout-not-cancellable',
        status: 409,
        checkoutStatus: 'COMPLETED',
      });
      const [order] = await api.h.db.select().from(schema.orders).where(eq(schema.orders.checkoutId, checkoutId));
      expect(order!.status).toBe('CONFIRMED');
    });

    it('answers a second cancel of a cancelled checkout like the first: 202, CANCELLED', async () => {
      const { checkoutId } = await waitingFor3ds();
      await api.request('POST', `/api/checkouts/${checkoutId}/cancel`);
      await api.waitForStatus(checkoutId, (v) => v.status === 'CANCELLED');
      await api.h.result(checkoutId);
      const again = await api.request('POST', `/api/checkouts/${checkoutId}/cancel`);

      expect(again.status).toBe(202);
      expect(again.body).toMatchObject({ checkoutId, status: 'CANCELLED' });
    });

    it('refuses with 409 to cancel a checkout that failed', async () => {
      const sku = await api.h.seedProduct();
      const started = await api.startCheckout(sku, { paymentMethodId: 'pm_card_chargeDeclined' });
      const checkoutId = String(started.body.checkoutId);
      await api.h.result(checkoutId);
      const res = await api.request('POST', `/api/checkouts/${checkoutId}/cancel`);

      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ checkoutStatus: 'FAILED', detail: 'The checkout is FAILED and can no longer be cancelled.' });
    });

    it('answers 404 for an unknown checkout and 400 for a bad reason', async () => {
      const unknown = await api.request('POST', '/api/checkouts/1b4e28ba-2fa1-41d2-883f-0016d3cca427/cancel');
      const badReason = await api.request('POST', '/api/checkouts/1b4e28ba-2fa1-41d2-883f-0016d3cca427/cancel', { json: { reason: 42 } });

      expect(unknown.status).toBe(404);
      expect(badReason.status).toBe(400);
      expect(badReason.body).toMatchObject({ errors: [{ field: 'reason', message: 'must be a string' }] });
    });
  });

  async function waitForStripeEvent(paymentIntentId: string, type: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const rows = await api.h.db.select().from(schema.stripeEvents).where(eq(schema.stripeEvents.paymentIntentId, paymentIntentId));
      if (rows.some((r) => r.type === type && r.outcome === 'signalled')) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${type} for ${paymentIntentId} was never signalled`);
  }
});
