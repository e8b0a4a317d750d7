import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import { checkoutSecretFor } from '../../src/application/checkouts/checkout-secret';
import { checkoutWorkflowId, type CheckoutState } from '../../src/workflows/checkout/contract';
import { closedPort, startTestApi, startVariantApp, type StatusView, type TestApi } from '../api/support';
import { json, runCli } from './support';

/**
 * The buyer's API and the operator's CLI run the same use cases, so they cannot drift apart. The
 * hardest case for that: a checkout the API accepted while Temporal was unreachable. Its row is
 * PENDING and its workflow was never started; both must say so, and both must be able to cancel it.
 */
describe('a checkout whose workflow never started, through the API and through the CLI', () => {
  let api: TestApi;
  let sku: string;
  beforeAll(async () => {
    api = await startTestApi();
    sku = await api.h.seedProduct({ stock: 10, priceMinor: 900 });
  });
  afterAll(async () => {
    await api?.close();
  });

  /** POST /api/checkouts while Temporal cannot be reached: 503, and the checkout waits as a PENDING row. */
  async function acceptedWhileTemporalWasDown(): Promise<{ checkoutId: string; orderId: string; key: string; body: object }> {
    const unreachable = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${await closedPort()}` }), namespace: api.h.config.TEMPORAL_NAMESPACE });
    const variant = await startVariantApp(api, { temporal: unreachable, timeouts: { startWorkflowMs: 1_500 } });
    const key = randomUUID();
    const body = { customer: { email: `never-started-${randomUUID().slice(0, 8)}@example.com` }, items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_visa' };
    try {
      const res = await fetch(`${variant.url}/api/checkouts`, { method: 'POST', headers: { 'content-type': 'application/json', 'Idempotency-Key': key }, body: JSON.stringify(body) });
      expect(res.status).toBe(503);
    } finally {
      await variant.close();
      await unreachable.connection.close();
    }
    const [row] = await api.h.db.select().from(schema.checkouts).where(eq(schema.checkouts.customerEmail, body.customer.email));
    expect(row).toMatchObject({ status: 'PENDING' });
    // The buyer never got the 503's secret; it is the one a replay of the request would hand out.
    api.rememberSecret(row!.id, checkoutSecretFor(api.h.config.SSO_SECRET, row!.id));
    return { checkoutId: row!.id, orderId: row!.orderId, key, body };
  }

  it('both answer PENDING, from PostgreSQL, and the CLI finds it by its order id too', async () => {
    const { checkoutId, orderId } = await acceptedWhileTemporalWasDown();

    const viaApi = await api.request<StatusView>('GET', `/api/checkouts/${checkoutId}`);
    expect(viaApi.status).toBe(200);
    expect(viaApi.headers.get('x-status-source')).toBe('database');
    expect(viaApi.body).toMatchObject({ checkoutId, orderId, status: 'PENDING' });

    const viaCli = await runCli(api.h, ['status', checkoutId, '--json']);
    expect(viaCli.code).toBe(0);
    expect(json<{ source: string; checkout: CheckoutState }>(viaCli)).toMatchObject({ ok: true, source: 'database', checkout: { checkoutId, orderId, status: 'PENDING' } });

    const asText = await runCli(api.h, ['status', orderId]);
    expect(asText.stderr).toBe('');
    expect(asText.code).toBe(0);
    expect(asText.stdout).toMatch(new RegExp(`^Checkout\\s+${checkoutId}$`, 'm'));
    expect(asText.stdout).toMatch(/^Status\s+PENDING$/m);
  });

  it('both cancel it at once: CANCELLED with nothing to undo, and a retry of the original request does not start it any more', async () => {
    const byApi = await acceptedWhileTemporalWasDown();
    const byCli = await acceptedWhileTemporalWasDown();

    const cancelled = await api.request('POST', `/api/checkouts/${byApi.checkoutId}/cancel`);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toEqual({ checkoutId: byApi.checkoutId, status: 'CANCELLED', statusUrl: `/api/checkouts/${byApi.checkoutId}` });

    const run = await runCli(api.h, ['cancel', byCli.checkoutId, '--reason', 'customer called']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Status\s+CANCELLED$/m);
    expect(run.stdout).toMatch(/^Failure\s+CANCELLED: Cancelled before it started$/m);

    // The same end, whoever cancelled, as the buyer and as an operator see it.
    for (const { checkoutId } of [byApi, byCli]) {
      const view = await api.request<StatusView>('GET', `/api/checkouts/${checkoutId}`);
      expect(view.body).toMatchObject({ status: 'CANCELLED', failure: { code: 'CANCELLED', message: 'Cancelled before it started' }, compensations: [] });
      const status = await runCli(api.h, ['status', checkoutId, '--json']);
      expect(json<{ checkout: CheckoutState }>(status).checkout).toMatchObject({ status: 'CANCELLED', failure: { code: 'CANCELLED', message: 'Cancelled before it started' } });
    }

    const retried = await api.request('POST', '/api/checkouts', { json: byCli.body, headers: { 'Idempotency-Key': byCli.key } });
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ checkoutId: byCli.checkoutId, status: 'CANCELLED' });
    await expect(api.h.client.workflow.getHandle(checkoutWorkflowId(byCli.checkoutId)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });
});
