import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { Registry } from 'prom-client';
import * as schema from '../../db/schema';
import { connectDatabase } from '../../db/client';
import { createReadinessChecker, postgresProbe, temporalProbe } from '../../src/api/readiness';
import { countInProgress } from '../../src/application/checkouts/admission';
import { checkoutWorkflowId } from '../../src/workflows/checkout/contract';
import { closedPort, startTestApi, startVariantApp, type TestApi } from './support';

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { field: string; message: string }[];
  skus?: string[];
}

describe('POST /api/checkouts', () => {
  let api: TestApi;
  let sku: string;
  beforeAll(async () => {
    api = await startTestApi();
    sku = await api.h.seedProduct({ stock: 1000, priceMinor: 1250 });
  });
  afterAll(async () => {
    await api?.h.assertNoChargeWithoutOrderOrRefund();
    await api?.close();
  });

  const valid = () => ({
    customer: { email: `buyer-${randomUUID().slice(0, 8)}@example.com`, name: 'Ada Buyer' },
    items: [{ sku, quantity: 1 }],
    paymentMethodId: 'pm_card_visa',
  });

  it('answers 202 with the checkout id, its status URL and a Location header, and the saga completes', async () => {
    const res = await api.startCheckout(sku);

    expect(res.status).toBe(202);
    const checkoutId = String(res.body.checkoutId);
    expect(checkoutId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body).toEqual({ checkoutId, status: 'PENDING', statusUrl: `/api/checkouts/${checkoutId}`, checkoutSecret: expect.stringMatching(/^[\w-]{43}$/) });
    expect(res.headers.get('location')).toBe(`/api/checkouts/${checkoutId}`);
    const done = await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');
    expect(done).toMatchObject({ amount: 1250, currency: 'EUR', payment: { status: 'succeeded' } });
  });

  it('prices the cart from the catalog and ignores any price, total or amount the client sends', async () => {
    const pricey = await api.h.seedProduct({ stock: 10, priceMinor: 4999 });
    const body = { ...valid(), items: [{ sku: pricey, quantity: 2, price: 1, unitPrice: 1 }], total: 2, amount: 2, currency: 'USD' };
    const res = await api.request('POST', '/api/checkouts', { json: body });

    expect(res.status).toBe(202);
    const done = await api.waitForStatus(String(res.body.checkoutId), (v) => v.status === 'COMPLETED');
    expect(done.amount).toBe(2 * 4999);
    expect(done.currency).toBe('EUR');
    const money = await api.h.emulator.moneyFor(String(res.body.checkoutId));
    expect(money.captured).toBe(2 * 4999);
  });

  it('stores the email trimmed and lower-cased', async () => {
    const res = await api.request('POST', '/api/checkouts', { json: { ...valid(), customer: { email: '  Mixed.Case@Example.COM ' } } });

    expect(res.status).toBe(202);
    const [row] = await api.h.db.select().from(schema.checkouts).where(eq(schema.checkouts.id, String(res.body.checkoutId)));
    expect(row!.customerEmail).toBe('mixed.case@example.com');
  });

  it('refuses an unknown SKU at once with 422, naming the SKU, and starts nothing', async () => {
    const res = await api.request<Problem>('POST', '/api/checkouts', {
      json: { ...valid(), items: [{ sku, quantity: 1 }, { sku: 'NO-SUCH-SKU', quantity: 1 }] },
    });

    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      type: 'urn:checkout-saga:problem:unknown-sku',
      status: 422,
      detail: 'Unknown product: NO-SUCH-SKU.',
      skus: ['NO-SUCH-SKU'],
      errors: [{ field: 'items[1].sku', message: 'no product has the SKU NO-SUCH-SKU' }],
    });
  });

  describe('invalid input is a 400 problem naming each bad field', () => {
    const cases: [string, (body: Record<string, unknown>) => unknown, { field: string; message: string }[]][] = [
      ['a missing customer', ({ customer: _c, ...rest }) => rest, [{ field: 'customer', message: 'is required' }]],
      ['a missing email', (b) => ({ ...b, customer: { name: 'No Email' } }), [{ field: 'customer.email', message: 'is required' }]],
      ['an email that is not one', (b) => ({ ...b, customer: { email: 'not-an-email' } }), [{ field: 'customer.email', message: 'must be a valid email address' }]],
      ['an email of the wrong type', (b) => ({ ...b, customer: { email: 42 } }), [{ field: 'customer.email', message: 'must be a string' }]],
      ['a name of the wrong type', (b) => ({ ...b, customer: { email: 'a@example.com', name: ['x'] } }), [{ field: 'customer.name', message: 'must be a string' }]],
      ['missing items', ({ items: _i, ...rest }) => rest, [{ field: 'items', message: 'is required' }]],
      ['items that are not a list', (b) => ({ ...b, items: 'everything' }), [{ field: 'items', message: 'must be an array' }]],
      ['an empty cart', (b) => ({ ...b, items: [] }), [{ field: 'items', message: 'must contain at least one item' }]],
      ['more than 50 lines', (b) => ({ ...b, items: Array.from({ length: 51 }, (_, i) => ({ sku: `S-${i}`, quantity: 1 })) }), [{ field: 'items', message: 'must contain at most 50 items' }]],
      ['a zero quantity', (b) => ({ ...b, items: [{ sku: 'A', quantity: 0 }] }), [{ field: 'items[0].quantity', message: 'must be at least 1' }]],
      ['a negative quantity', (b) => ({ ...b, items: [{ sku: 'A', quantity: -3 }] }), [{ field: 'items[0].quantity', message: 'must be at least 1' }]],
      ['a fractional quantity', (b) => ({ ...b, items: [{ sku: 'A', quantity: 1.5 }] }), [{ field: 'items[0].quantity', message: 'must be a whole number' }]],
      ['a quantity as a string', (b) => ({ ...b, items: [{ sku: 'A', quantity: '2' }] }), [{ field: 'items[0].quantity', message: 'must be a number' }]],
      ['an absurd quantity', (b) => ({ ...b, items: [{ sku: 'A', quantity: 1_000_000 }] }), [{ field: 'items[0].quantity', message: 'must be at most 100' }]],
      ['a missing quantity', (b) => ({ ...b, items: [{ sku: 'A' }] }), [{ field: 'items[0].quantity', message: 'is required' }]],
      ['a missing SKU', (b) => ({ ...b, items: [{ quantity: 1 }] }), [{ field: 'items[0].sku', message: 'is required' }]],
      ['a SKU of the wrong type', (b) => ({ ...b, items: [{ sku: 7, quantity: 1 }] }), [{ field: 'items[0].sku', message: 'must be a string' }]],
      ['a missing payment method', ({ paymentMethodId: _p, ...rest }) => rest, [{ field: 'paymentMethodId', message: 'is required' }]],
      ['a payment method that is not a PaymentMethod id', (b) => ({ ...b, paymentMethodId: '4242424242424242' }), [{ field: 'paymentMethodId', message: 'must be a Stripe PaymentMethod id (pm_...)' }]],
      ['a body that is a list', () => [1, 2], [{ field: 'body', message: 'the body must be a JSON object' }]],
    ];

    it.each(cases)('%s', async (_name, mutate, errors) => {
      const res = await api.request<Problem>('POST', '/api/checkouts', { json: mutate(valid()) });

      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ type: 'urn:checkout-saga:problem:validation-failed', title: 'The request is not valid', status: 400 });
      expect(res.body.errors).toEqual(errors);
    });

    it('a request without a body', async () => {
      const res = await api.request<Problem>('POST', '/api/checkouts');
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ field: 'body', message: 'the body must be a JSON object' }]);
    });

    it('reports every bad field at once', async () => {
      const res = await api.request<Problem>('POST', '/api/checkouts', {
        json: { customer: { email: 'nope' }, items: [{ sku: '', quantity: 0 }], paymentMethodId: 12 },
        headers: { 'Idempotency-Key': 'has spaces in it' },
      });
      expect(res.status).toBe(400);
      expect(res.body.errors!.map((e) => e.field).sort()).toEqual(['Idempotency-Key', 'customer.email', 'items[0].quantity', 'items[0].sku', 'paymentMethodId']);
    });
  });

  describe('with an Idempotency-Key', () => {
    it('answers the same checkout for the same key and body, and starts one saga', async () => {
      const key = randomUUID();
      const body = valid();
      const first = await api.request('POST', '/api/checkouts', { json: body, headers: { 'Idempotency-Key': key } });
      await api.waitForStatus(String(first.body.checkoutId), (v) => v.status === 'COMPLETED');
      const again = await api.request('POST', '/api/checkouts', { json: body, headers: { 'Idempotency-Key': key } });

      expect(first.status).toBe(202);
      expect(again.status).toBe(202);
      expect(again.body.checkoutId).toBe(first.body.checkoutId);
      expect(again.body.status).toBe('COMPLETED');
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect((await api.h.emulator.moneyFor(String(first.body.checkoutId))).charges).toBe(1);
    });

    it('treats the same cart written differently (line order, split lines, email case) as the same request', async () => {
      const other = await api.h.seedProduct({ stock: 50 });
      const key = randomUUID();
      const email = `same-${randomUUID().slice(0, 8)}@example.com`;
      const first = await api.request('POST', '/api/checkouts', {
        json: { customer: { email }, items: [{ sku, quantity: 2 }, { sku: other, quantity: 1 }], paymentMethodId: 'pm_card_visa' },
        headers: { 'Idempotency-Key': key },
      });
      const again = await api.request('POST', '/api/checkouts', {
        json: { customer: { email: email.toUpperCase() }, items: [{ sku: other, quantity: 1 }, { sku, quantity: 1 }, { sku, quantity: 1 }], paymentMethodId: 'pm_card_visa' },
        headers: { 'Idempotency-Key': key },
      });

      expect(again.status).toBe(202);
      expect(again.body.checkoutId).toBe(first.body.checkoutId);
    });

    it('refuses the same key with a different body with 422, and explains why without naming the checkout', async () => {
      const key = randomUUID();
      const first = await api.request('POST', '/api/checkouts', { json: valid(), headers: { 'Idempotency-Key': key } });
      const other = await api.request<Problem & { checkoutId: string }>('POST', '/api/checkouts', {
        json: { ...valid(), items: [{ sku, quantity: 3 }] },
        headers: { 'Idempotency-Key': key },
      });

      expect(other.status).toBe(422);
      expect(other.body).toMatchObject({
        type: 'urn:checkout-saga:problem:idempotency-key-reused',
        status: 422,
      });
      // The key may have leaked (a log, a shared proxy): its checkout must not leak with it.
      expect(other.text).not.toContain(String(first.body.checkoutId));
      expect(other.body.detail).toMatch(/already started a checkout with a different body/);
    });

    it('starts exactly one saga when the same submit arrives several times at once', async () => {
      const key = randomUUID();
      const body = valid();
      const answers = await Promise.all(
        Array.from({ length: 5 }, () => api.request('POST', '/api/checkouts', { json: body, headers: { 'Idempotency-Key': key } })),
      );

      expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
      const ids = new Set(answers.map((a) => a.body.checkoutId));
      expect(ids.size).toBe(1);
      const checkoutId = String([...ids][0]);
      await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');

      const rows = await api.h.db.select().from(schema.checkouts).where(eq(schema.checkouts.customerEmail, body.customer.email));
      expect(rows).toHaveLength(1);
      expect((await api.h.emulator.moneyFor(checkoutId)).intents).toHaveLength(1);
      const runs = await countWorkflowRuns(api, checkoutId);
      expect(runs).toBe(1);
    });

    it('refuses a key that is not printable ASCII', async () => {
      const res = await api.request<Problem>('POST', '/api/checkouts', { json: valid(), headers: { 'Idempotency-Key': 'x'.repeat(300) } });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ field: 'Idempotency-Key', message: 'must be at most 255 characters' }]);
    });
  });

  it('counts started checkouts in checkouts_started_total, but not idempotent replays', async () => {
    const before = await startedTotal(api);
    const key = randomUUID();
    const body = valid();
    await api.request('POST', '/api/checkouts', { json: body, headers: { 'Idempotency-Key': key } });
    await api.request('POST', '/api/checkouts', { json: body, headers: { 'Idempotency-Key': key } });
    expect(await startedTotal(api)).toBe(before + 1);
  });

  describe('while Temporal cannot be reached', () => {
    it('answers 503 with Retry-After, and a retry with the same key after recovery completes that same checkout', async () => {
      const port = await closedPort();
      const unreachable = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${port}` }), namespace: api.h.config.TEMPORAL_NAMESPACE });
      const variant = await startVariantApp(api, {
        temporal: unreachable,
        timeouts: { startWorkflowMs: 1_500 },
        readiness: createReadinessChecker({ postgres: postgresProbe(api.h.database.sql), temporal: temporalProbe(unreachable, 1_000) }),
      });
      try {
        const key = randomUUID();
        const body = valid();
        const outage = await fetch(`${variant.url}/api/checkouts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'Idempotency-Key': key },
          body: JSON.stringify(body),
        });
        const problem = (await outage.json()) as Problem;
        const ready = await fetch(`${variant.url}/readyz`);

        expect(outage.status).toBe(503);
        expect(outage.headers.get('retry-after')).toBe('5');
        expect(problem).toMatchObject({ type: 'urn:checkout-saga:problem:service-unavailable', status: 503 });
        expect(JSON.stringify(problem)).not.toMatch(/127\.0\.0\.1|grpc|DEADLINE|ECONNREFUSED/i);
        expect(ready.status).toBe(503);
        expect(await ready.json()).toMatchObject({ checks: { postgres: 'ok', temporal: expect.stringMatching(/failed|timeout/) } });

        const retried = await api.request('POST', '/api/checkouts', { json: body, headers: { 'Idempotency-Key': key } });
        expect(retried.status).toBe(202);
        const done = await api.waitForStatus(String(retried.body.checkoutId), (v) => v.status === 'COMPLETED');
        expect(done.amount).toBe(1250);
        const rows = await api.h.db.select().from(schema.checkouts).where(eq(schema.checkouts.customerEmail, body.customer.email));
        expect(rows).toHaveLength(1);
      } finally {
        await variant.close();
        await unreachable.connection.close();
      }
    });
  });
});

describe('POST /api/checkouts while CHECKOUT_MAX_IN_FLIGHT checkouts are in progress', () => {
  let api: TestApi;
  let sku: string;
  beforeAll(async () => {
    api = await startTestApi();
    sku = await api.h.seedProduct({ stock: 100, priceMinor: 700 });
  });
  afterAll(async () => {
    await api?.h.assertNoChargeWithoutOrderOrRefund();
    await api?.close();
  });

  it('refuses a new checkout with 503 and Retry-After, still answers a retry of an accepted one, and admits again once one finishes', async () => {
    // Two checkouts held in progress: their payments wait for a 3-D Secure answer that never comes.
    const held: { checkoutId: string; key: string; body: object }[] = [];
    for (let i = 0; i < 2; i++) {
      const key = randomUUID();
      const body = { customer: { email: `held-${randomUUID().slice(0, 8)}@example.com` }, items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_authenticationRequired' };
      const res = await api.request('POST', '/api/checkouts', { json: body, headers: { 'Idempotency-Key': key } });
      expect(res.status).toBe(202);
      await api.waitForStatus(String(res.body.checkoutId), (v) => v.status === 'REQUIRES_ACTION');
      held.push({ checkoutId: String(res.body.checkoutId), key, body });
    }
    // The limit is what is in progress now (the database is shared with earlier suites): full.
    const limit = await countInProgress(api.h.db);
    const metrics = new Registry();
    const variant = await startVariantApp(api, { config: { ...api.h.config, CHECKOUT_MAX_IN_FLIGHT: limit }, metrics });
    const post = (body: object, key: string = randomUUID()) =>
      fetch(`${variant.url}/api/checkouts`, { method: 'POST', headers: { 'content-type': 'application/json', 'Idempotency-Key': key }, body: JSON.stringify(body) });
    const body = () => ({ customer: { email: `busy-${randomUUID().slice(0, 8)}@example.com` }, items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_visa' });
    try {
      const shed = await post(body());
      const problem = (await shed.json()) as Problem;
      expect(shed.status).toBe(503);
      expect(shed.headers.get('retry-after')).toBe('2');
      expect(problem).toMatchObject({ type: 'urn:checkout-saga:problem:checkouts-busy', status: 503, title: 'Too many checkouts in progress' });
      expect(problem.detail).toMatch(/Nothing was charged/);
      expect((await metrics.getSingleMetricAsString('checkouts_shed_total')).split('\n')).toContain('checkouts_shed_total 1');

      // A retry of a checkout already accepted is not a new one: it is answered, not shed.
      const replay = await post(held[0]!.body, held[0]!.key);
      expect(replay.status).toBe(202);
      expect(((await replay.json()) as { checkoutId: string }).checkoutId).toBe(held[0]!.checkoutId);

      // One held checkout is cancelled and undone: there is room for one more.
      expect((await api.request('POST', `/api/checkouts/${held[0]!.checkoutId}/cancel`, { json: { reason: 'admission test' } })).status).toBe(202);
      await api.waitForStatus(held[0]!.checkoutId, (v) => v.status === 'CANCELLED');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const admitted = await post(body());
      expect(admitted.status).toBe(202);
      const { checkoutId, checkoutSecret } = (await admitted.json()) as { checkoutId: string; checkoutSecret: string };
      api.rememberSecret(checkoutId, checkoutSecret);
      expect((await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED')).status).toBe('COMPLETED');
    } finally {
      await variant.close();
      await api.request('POST', `/api/checkouts/${held[1]!.checkoutId}/cancel`, { json: { reason: 'admission test done' } });
      await api.waitForStatus(held[1]!.checkoutId, (v) => v.status === 'CANCELLED');
    }
  });

  it('answers every submit of a burst larger than its connection pool: counting the door never waits for a connection the burst holds', async () => {
    const small = connectDatabase(api.h.config.DATABASE_URL, 2);
    const variant = await startVariantApp(api, { db: small.db, config: { ...api.h.config, CHECKOUT_MAX_IN_FLIGHT: 1_000 } });
    const body = () => ({ customer: { email: `burst-${randomUUID().slice(0, 8)}@example.com` }, items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_visa' });
    try {
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => fetch(`${variant.url}/api/checkouts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body()) })),
      );
      expect(answers.map((res) => res.status)).toEqual(Array.from({ length: 8 }, () => 202));
    } finally {
      await variant.close();
      await small.close();
    }
  });
});

async function countWorkflowRuns(api: TestApi, checkoutId: string): Promise<number> {
  // Visibility is eventually consistent: wait until it has caught up with the one completed run.
  for (let attempt = 0; attempt < 50; attempt++) {
    const { count } = await api.h.client.workflow.count(`WorkflowId = "${checkoutWorkflowId(checkoutId)}" AND ExecutionStatus = "Completed"`);
    if (count > 0) return (await api.h.client.workflow.count(`WorkflowId = "${checkoutWorkflowId(checkoutId)}"`)).count;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`workflow of ${checkoutId} never showed up in visibility`);
}

async function startedTotal(api: TestApi): Promise<number> {
  const match = /^checkouts_started_total (\d+)/m.exec(await api.scrapeMetrics());
  return Number(match?.[1] ?? 0);
}
