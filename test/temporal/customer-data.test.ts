import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { checkoutWorkflowId } from '../../src/workflows/checkout/contract';
import { refundWorkflowId } from '../../src/workflows/refund/contract';
import { customerEmailHash } from '../../src/temporal/customer-email-hash';
import { ENCRYPTED_ENCODING, parseCodecKeys } from '../../src/temporal/codec';
import { payloadCodec, temporalDataConverter } from '../../src/temporal/data-converter';
import { createCodecServer } from '../../src/temporal/codec-server';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { freePort, startServiceProcess, type ServiceProcess } from '../support/service-process';
import { eventually, json, runCli } from '../ops/support';
import { recordHistory } from '../support/histories';

/**
 * Whoever reads Temporal (its database, a backup, its Web UI without the codec server) must not
 * read the buyer. The service's own processes run as deployed (API, worker, codec server, CLI);
 * what they wrote is then read back with a client that has no codec, as such a reader would.
 */

/** A payload as the history's protobuf JSON holds it (bytes in base64), and where in the history it sits. */
interface HistoryPayload {
  path: string;
  metadata: Record<string, string>;
  data?: string;
}

const text = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8');

function payloadsIn(value: unknown, path = ''): HistoryPayload[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => payloadsIn(item, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  const { metadata, data } = value as { metadata?: unknown; data?: unknown };
  if (metadata && typeof metadata === 'object' && typeof (metadata as Record<string, unknown>).encoding === 'string') {
    return [{ path, metadata: metadata as Record<string, string>, ...(typeof data === 'string' ? { data } : {}) }];
  }
  return Object.entries(value).flatMap(([key, field]) => payloadsIn(field, `${path}.${key}`));
}

/** Failures raised by the service's own code: an activity's, or the workflow's end. */
function serviceFailuresIn(events: HistoryEvent[]): Array<{ message?: string; stackTrace?: string; encodedAttributes?: unknown }> {
  return events.flatMap((e) => [e.activityTaskFailedEventAttributes?.failure, e.workflowExecutionFailedEventAttributes?.failure].filter((f) => f !== undefined));
}

interface HistoryEvent {
  eventType: string;
  activityTaskFailedEventAttributes?: { failure: { message?: string; stackTrace?: string; encodedAttributes?: unknown } };
  workflowExecutionFailedEventAttributes?: { failure: { message?: string; stackTrace?: string; encodedAttributes?: unknown } };
}

/**
 * What the codec never seals, by design: search attributes (the server indexes them), headers
 * (context such as tracing, not data) and the SDK's own bookkeeping in markers (a patch's id; a local
 * activity's id, type and timing, beside its sealed `result`). All of it is still searched for the buyer.
 */
const unsealedByDesign = (p: HistoryPayload) => /searchAttributes|\.header\.|markerRecordedEventAttributes\.details\.(patch-data|data)\./.test(p.path);

describe('customer data in Temporal', () => {
  let h: SagaHarness;
  let plain: Client;
  let plainConnection: Connection;
  let env: Record<string, string>;
  let apiUrl: string;
  let codecUrl: string;
  const codecToken = randomBytes(24).toString('hex');
  const uiOrigin = 'http://127.0.0.1:8233';
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    // The harness only for its database and its task queue: the API, the worker and the codec server are the real processes.
    h = await startSagaHarness({ startWorker: false });
    plainConnection = await Connection.connect({ address: h.config.TEMPORAL_ADDRESS });
    plain = new Client({ connection: plainConnection, namespace: h.config.TEMPORAL_NAMESPACE });
    const [apiPort, codecPort] = [await freePort(), await freePort()];
    apiUrl = `http://127.0.0.1:${apiPort}`;
    codecUrl = `http://127.0.0.1:${codecPort}/codec`;
    env = { TEMPORAL_TASK_QUEUE: h.taskQueue, APP_URL: apiUrl, LOG_LEVEL: 'info', WORKER_METRICS_PORT: '0', API_METRICS_PORT: '0' };

    const worker = startServiceProcess('src/workers/main.ts', env);
    const api = startServiceProcess('src/api/main.ts', { ...env, PORT: String(apiPort) });
    const codec = startServiceProcess('src/temporal/codec-server-main.ts', { ...env, CODEC_SERVER_PORT: String(codecPort), CODEC_SERVER_TOKEN: codecToken, CODEC_SERVER_CORS_ORIGINS: uiOrigin });
    processes.push(worker, api, codec);
    await Promise.all([
      worker.waitForLog((l) => l.msg === 'worker started', 'worker started'),
      api.waitForLog((l) => l.msg === 'API listening', 'API listening'),
      codec.waitForLog((l) => l.msg === 'codec server listening', 'codec server listening'),
    ]);
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await plainConnection?.close();
    await h?.close();
  });

  /** One buyer through the API: checkout ids, their secret, and the address and name they typed. */
  async function buy(paymentMethodId: string, buyer: { email: string; name: string }): Promise<{ checkoutId: string; status: string }> {
    const sku = await h.seedProduct({ priceMinor: 2500 });
    const res = await fetch(`${apiUrl}/api/checkouts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer: buyer, items: [{ sku, quantity: 1 }], paymentMethodId }),
    });
    expect(res.status).toBe(202);
    const { checkoutId, checkoutSecret } = (await res.json()) as { checkoutId: string; checkoutSecret: string };
    const status = await eventually(async () => {
      const view = (await (await fetch(`${apiUrl}/api/checkouts/${checkoutId}?waitForChangeMs=5000`, { headers: { 'Checkout-Secret': checkoutSecret } })).json()) as { status: string };
      return ['COMPLETED', 'FAILED', 'CANCELLED'].includes(view.status) ? view.status : undefined;
    }, `checkout ${checkoutId} to end`, 60_000);
    return { checkoutId, status };
  }

  const historyOf = async (workflowId: string) => JSON.parse(JSON.stringify(await plain.workflow.getHandle(workflowId).fetchHistory())) as { events: HistoryEvent[] };

  describe('a buyer who pays, is declined and is refunded', () => {
    const tag = randomUUID().slice(0, 8);
    const buyer = { email: `sealed-${tag}@example.com`, name: `Ada Sealed-${tag}` };
    let paid: string;
    let declined: string;
    let refundKey: string;
    let overRefundKey: string;

    beforeAll(async () => {
      const [ok, no] = [await buy('pm_card_visa', buyer), await buy('pm_card_chargeDeclined', buyer)];
      expect([ok.status, no.status]).toEqual(['COMPLETED', 'FAILED']);
      [paid, declined] = [ok.checkoutId, no.checkoutId];
      // Sealed histories (dev key), the hash in CustomerEmail, failures encoded: test/replay keeps them replaying.
      await recordHistory(plain.workflow.getHandle(checkoutWorkflowId(paid)), 'sealed-completed');
      await recordHistory(plain.workflow.getHandle(checkoutWorkflowId(declined)), 'sealed-declined');
      // Keys of their own: a refund key is part of a workflow id, which is no secret.
      const keyTag = randomUUID().slice(0, 8);
      refundKey = `sealed-${keyTag}`;
      overRefundKey = `sealed-over-${keyTag}`;
    });

    it('leaves neither their email nor their name readable in any history, and seals every payload and failure with the active key', async () => {
      // Through the CLI as an operator does it: one refund made, one refused (a failure the workflow raises).
      const refunded = await runCli(h, ['refund', paid, '--amount', '500', '--key', refundKey, '--json'], env);
      expect(refunded.code).toBe(0);
      const refused = await runCli(h, ['refund', paid, '--amount', '999999', '--key', overRefundKey], env);
      expect(refused.code).toBe(1);

      const workflowIds = [checkoutWorkflowId(paid), checkoutWorkflowId(declined), refundWorkflowId(refundKey), refundWorkflowId(overRefundKey)];
      for (const workflowId of workflowIds) {
        const history = await historyOf(workflowId);
        const whole = JSON.stringify(history);
        const payloads = payloadsIn(history);
        const readable = [whole, ...payloads.map((p) => `${p.path}: ${text(p.data)}`)].join('\n').toLowerCase();
        expect({ workflowId, email: readable.includes(buyer.email), name: readable.includes(buyer.name.toLowerCase()), tag: readable.includes(tag) }).toEqual({
          workflowId,
          email: false,
          name: false,
          tag: false,
        });

        const sealed = payloads.filter((p) => !unsealedByDesign(p));
        expect(sealed.length).toBeGreaterThan(0);
        expect(sealed.filter((p) => text(p.metadata.encoding) !== ENCRYPTED_ENCODING || text(p.metadata['encryption-key-id']) !== 'dev-2026').map((p) => p.path)).toEqual([]);

        const failures = serviceFailuresIn(history.events);
        expect(failures.filter((f) => f.message !== 'Encoded failure' || f.stackTrace || !f.encodedAttributes)).toEqual([]);
        if (workflowId !== checkoutWorkflowId(paid) && workflowId !== refundWorkflowId(refundKey)) expect(failures.length).toBeGreaterThan(0);
      }
    });

    it("answers queries sealed: the status of a checkout reads only with the service's keys", async () => {
      const { queryResult } = await plainConnection.workflowService.queryWorkflow({
        namespace: h.config.TEMPORAL_NAMESPACE,
        execution: { workflowId: checkoutWorkflowId(paid) },
        query: { queryType: 'status' },
      });
      const [answer] = queryResult?.payloads ?? [];
      expect(Buffer.from(answer?.metadata?.encoding ?? []).toString()).toBe(ENCRYPTED_ENCODING);
      expect(Buffer.from(answer?.data ?? []).toString('latin1')).not.toContain(buyer.email);
    });

    it('lets the CLI read what the service sealed: the status with the email, a refund and the reason one was refused', async () => {
      const status = json<{ checkout: { status: string; customerEmail: string } }>(await runCli(h, ['status', paid, '--json'], env));
      expect(status.checkout).toMatchObject({ status: 'COMPLETED', customerEmail: buyer.email });
      // Run again, the same refund answers from the sealed result of the first run.
      const again = json<{ repeated: boolean; refund: { amount: number; customerEmail: string } }>(await runCli(h, ['refund', paid, '--amount', '500', '--key', refundKey, '--json'], env));
      expect(again).toMatchObject({ repeated: true, refund: { amount: 500, customerEmail: buyer.email } });
      const refused = await runCli(h, ['refund', paid, '--amount', '999999', '--key', overRefundKey], env);
      expect(refused.stderr).toMatch(/OVER_REFUND.*exceeds/);
    });

    it('keeps only a keyed hash of the email in visibility, and list --email finds the checkouts by the address', async () => {
      const hash = customerEmailHash(h.config, buyer.email);
      for (const workflowId of [checkoutWorkflowId(paid), checkoutWorkflowId(declined), refundWorkflowId(refundKey)]) {
        const { searchAttributes } = await plain.workflow.getHandle(workflowId).describe();
        expect({ workflowId, CustomerEmail: searchAttributes.CustomerEmail }).toEqual({ workflowId, CustomerEmail: [hash] });
      }

      const listed = json<{ query: string; checkouts: Array<{ checkoutId: string; customerEmail: string }> }>(
        await runCli(h, ['list', '--email', buyer.email.toUpperCase(), '--json'], env),
      );
      expect(listed.query).toBe(`WorkflowType = "CheckoutWorkflow" AND CustomerEmail = "${hash}"`);
      expect(listed.checkouts.map((c) => c.checkoutId).sort()).toEqual([paid, declined].sort());
      expect(listed.checkouts.map((c) => c.customerEmail)).toEqual([buyer.email, buyer.email]);
    });

    it('decodes the history for an operator with the codec server token, refuses anyone without it, and answers browsers of the Web UI only', async () => {
      const started = (await historyOf(checkoutWorkflowId(paid))).events.find((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
      const input = payloadsIn(started).filter((p) => !unsealedByDesign(p));
      expect(input).toHaveLength(1);
      const body = JSON.stringify({ payloads: input.map(({ metadata, data }) => ({ metadata, data })) });
      const decode = (headers: Record<string, string>) => fetch(`${codecUrl}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

      const operator = await decode({ authorization: `Bearer ${codecToken}`, origin: uiOrigin, 'x-namespace': h.config.TEMPORAL_NAMESPACE });
      expect(operator.status).toBe(200);
      expect(operator.headers.get('access-control-allow-origin')).toBe(uiOrigin);
      const [decoded] = ((await operator.json()) as { payloads: Array<{ data: string }> }).payloads;
      expect(JSON.parse(text(decoded?.data))).toMatchObject({ checkoutId: paid, customer: buyer });

      expect((await decode({})).status).toBe(401);
      expect((await decode({ authorization: 'Bearer not-the-token' })).status).toBe(401);
      const preflight = (origin: string) => fetch(`${codecUrl}/decode`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-namespace' } });
      const fromUi = await preflight(uiOrigin);
      expect([fromUi.status, fromUi.headers.get('access-control-allow-origin')]).toEqual([204, uiOrigin]);
      const fromElsewhere = await preflight('https://elsewhere.example');
      expect([fromElsewhere.status, fromElsewhere.headers.get('access-control-allow-origin')]).toEqual([403, null]);
    });
  });

  describe('key rotation', () => {
    const [keyA, keyB] = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64')];
    const both = `b:${keyB},a:${keyA}`;
    let underA: SagaHarness;
    let rotatedWorker: ServiceProcess | undefined;

    beforeAll(async () => {
      // Only key A, and no worker yet: the checkout's input is sealed with A and waits in Temporal.
      underA = await startSagaHarness({ startWorker: false, env: { PAYLOAD_CODEC_KEYS: `a:${keyA}` } });
    });
    afterAll(async () => {
      await rotatedWorker?.stop();
      await underA?.close();
    });

    it('tells which key is missing when A was removed too early, and finishes the checkout under B once A is back', async () => {
      const sku = await underA.seedProduct({ priceMinor: 1800 });
      const { input } = await underA.startCheckout({ items: [{ sku, quantity: 1 }] });
      const workerEnv = { TEMPORAL_TASK_QUEUE: underA.taskQueue, WORKER_METRICS_PORT: '0', LOG_LEVEL: 'info' };

      // B active and A already gone: the worker cannot open the input, and its log names the key.
      const withoutA = startServiceProcess('src/workers/main.ts', { ...workerEnv, PAYLOAD_CODEC_KEYS: `b:${keyB}` });
      try {
        const line = await withoutA.waitForLog((l) => JSON.stringify(l).includes('which is not configured'), 'the missing key in the worker log');
        expect(JSON.stringify(line)).toContain('sealed with key \\"a\\", which is not configured: add it back to PAYLOAD_CODEC_KEYS');
      } finally {
        await withoutA.stop();
      }

      // The worker and the clients restart with B active and A kept for what A sealed.
      rotatedWorker = startServiceProcess('src/workers/main.ts', { ...workerEnv, PAYLOAD_CODEC_KEYS: both });
      await rotatedWorker.waitForLog((l) => l.msg === 'worker started', 'worker started');
      const rotated = new Client({
        connection: plainConnection,
        namespace: h.config.TEMPORAL_NAMESPACE,
        dataConverter: temporalDataConverter({ PAYLOAD_CODEC_KEYS: parseCodecKeys(both), PAYLOAD_CODEC_ACTIVE_KEY: undefined }),
      });
      const result = (await rotated.workflow.getHandle(checkoutWorkflowId(input.checkoutId)).result()) as { status: string };
      expect(result.status).toBe('COMPLETED');

      const history = await historyOf(checkoutWorkflowId(input.checkoutId));
      const keysOf = (eventType: string) =>
        payloadsIn(history.events.find((e) => e.eventType === eventType))
          .filter((p) => !unsealedByDesign(p))
          .map((p) => text(p.metadata['encryption-key-id']));
      expect(keysOf('EVENT_TYPE_WORKFLOW_EXECUTION_STARTED')).toEqual(['a']);
      expect(keysOf('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED')).toEqual(['b']);

      const status = json<{ source: string; checkout: { status: string; customerEmail: string } }>(
        await runCli(underA, ['status', input.checkoutId, '--json'], { PAYLOAD_CODEC_KEYS: both }),
      );
      expect(status).toMatchObject({ source: 'query', checkout: { status: 'COMPLETED', customerEmail: input.customer.email } });

      // An operator's codec server without A says which key it lacks instead of failing blankly.
      const started = payloadsIn(history.events.find((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED')).filter((p) => !unsealedByDesign(p));
      const server = createCodecServer({ codec: payloadCodec({ PAYLOAD_CODEC_KEYS: parseCodecKeys(`b:${keyB}`), PAYLOAD_CODEC_ACTIVE_KEY: undefined }), allowedOrigins: [] }).listen(0, '127.0.0.1');
      try {
        await once(server, 'listening');
        const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/codec/decode`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ payloads: started.map(({ metadata, data }) => ({ metadata, data })) }),
        });
        expect({ status: res.status, body: await res.json() }).toEqual({
          status: 422,
          body: expect.objectContaining({ detail: expect.stringContaining('sealed with key "a", which is not configured') }),
        });
      } finally {
        server.close();
      }
    });
  });
});
