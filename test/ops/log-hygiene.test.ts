import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { inArray } from 'drizzle-orm';
import { notifications } from '../../db/notifications-schema';
import { orderHistoryOrders } from '../../db/order-history-schema';
import * as schema from '../../db/schema';
import { ensureTopics } from '../../src/kafka/topics';
import { createLogger } from '../../src/logger';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { freePort, startServiceProcess, type ServiceProcess } from '../support/service-process';
import { eventually, runCli, type CliRun } from './support';

/**
 * Customer emails are personal data: they belong in the database, the events and the mails, never
 * in a log line. Every process of the service (API, worker, consumers, CLI) runs as deployed, at
 * debug level, while one customer buys, is declined and is refunded; then every line they wrote is
 * searched for that customer's address.
 */
describe('log hygiene', () => {
  let h: SagaHarness;
  let env: Record<string, string>;
  let apiUrl: string;
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    // The harness only as a client: the worker, the API and the consumers are the real processes.
    h = await startSagaHarness({ startWorker: false });
    const suffix = randomUUID().slice(0, 8);
    const topics = { KAFKA_TOPIC: `checkout.events.test-logs-${suffix}`, KAFKA_DLQ_TOPIC: `checkout.events.dlq.test-logs-${suffix}` };
    await ensureTopics(h.config.KAFKA_BROKERS, { topic: topics.KAFKA_TOPIC, dlqTopic: topics.KAFKA_DLQ_TOPIC, partitions: h.config.KAFKA_TOPIC_PARTITIONS });
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    env = { ...topics, TEMPORAL_TASK_QUEUE: h.taskQueue, APP_URL: apiUrl, LOG_LEVEL: 'debug', WORKER_METRICS_PORT: '0' };

    const worker = startServiceProcess('src/workers/main.ts', env);
    const consumers = startServiceProcess('src/workers/consumers-main.ts', env);
    const api = startServiceProcess('src/api/main.ts', { ...env, PORT: String(port) });
    processes.push(api, worker, consumers);
    await Promise.all([
      worker.waitForLog((l) => l.msg === 'worker started', 'worker started'),
      consumers.waitForLog((l) => l.msg === 'consumers started', 'consumers started'),
      api.waitForLog((l) => l.msg === 'API listening', 'API listening'),
    ]);
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await h?.close();
  });

  it('no process logs the email of a customer who buys, is declined, sends a name PostgreSQL cannot store and is refunded', async () => {
    const [api, worker, consumers] = processes as [ServiceProcess, ServiceProcess, ServiceProcess];
    const localPart = `log-hygiene-${randomUUID().slice(0, 8)}`;
    const email = `${localPart}@example.com`;
    const sku = await h.seedProduct({ stock: 5, priceMinor: 1500 });
    const post = (customer: { email: string; name?: string }, paymentMethodId: string) =>
      fetch(`${apiUrl}/api/checkouts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ customer, items: [{ sku, quantity: 1 }], paymentMethodId }),
      });
    // The buyer's own reads: status answers only the holder of the checkout's secret.
    const orderOf = async (checkout: { checkoutId: string; checkoutSecret: string }) =>
      ((await (await fetch(`${apiUrl}/api/checkouts/${checkout.checkoutId}`, { headers: { 'Checkout-Secret': checkout.checkoutSecret } })).json()) as { orderId: string }).orderId;

    // Once a 500 whose error line repeated the query, email included.
    const unstorable = await post({ email, name: 'Ada\u0000Lovelace' }, 'pm_card_visa');
    expect(unstorable.status).toBe(400);

    const paid = (await (await post({ email, name: 'Ada Lovelace' }, 'pm_card_visa')).json()) as { checkoutId: string; checkoutSecret: string };
    await h.waitForStatus(paid.checkoutId, (s) => s.status === 'COMPLETED');
    const declined = (await (await post({ email, name: 'Ada Lovelace' }, 'pm_card_chargeDeclined')).json()) as { checkoutId: string; checkoutSecret: string };
    await h.waitForStatus(declined.checkoutId, (s) => s.status === 'FAILED');

    const cli: CliRun[] = [];
    cli.push(await runCli(h, ['refund', paid.checkoutId, '--amount', '500', '--reason', 'log hygiene'], env));
    expect(cli[0]!.code).toBe(0);
    cli.push(await runCli(h, ['status', paid.checkoutId], env));
    expect(cli[1]!.stdout).toContain(email);

    // The consumers have done everything with these events: three emails sent, the order refunded in the read model.
    const orderIds = [await orderOf(paid), await orderOf(declined)];
    await eventually(async () => {
      const sent = await h.db.select().from(notifications).where(inArray(notifications.orderId, orderIds));
      return sent.filter((n) => n.status === 'sent').length === 3 ? sent : undefined;
    }, 'the receipt, the failure notice and the refund mail', 60_000);
    await eventually(async () => {
      const [order] = await h.db.select().from(orderHistoryOrders).where(inArray(orderHistoryOrders.orderId, [orderIds[0]!]));
      return order?.refundedMinor === 500 ? order : undefined;
    }, 'the refund in the order history', 60_000);

    // Stopped, so whatever they still held is written.
    await Promise.all(processes.map((p) => p.stop()));

    // The processes really did log this customer's story, by id.
    expect(api.json().filter((l) => l.msg === 'checkout started').map((l) => l.checkoutId)).toEqual(expect.arrayContaining([paid.checkoutId, declined.checkoutId]));
    expect(worker.json().some((l) => l.msg === 'checkout completed' && l.checkoutId === paid.checkoutId)).toBe(true);
    expect(consumers.json().some((l) => l.msg === 'event handled' && l.orderId === orderIds[1])).toBe(true);

    const written = [
      ...api.lines.map((line) => `api: ${line}`),
      ...worker.lines.map((line) => `worker: ${line}`),
      ...consumers.lines.map((line) => `consumers: ${line}`),
      ...cli.flatMap((run) => run.stderr.split('\n').map((line) => `cli: ${line}`)),
    ];
    expect(written.filter((line) => line.toLowerCase().includes(localPart))).toEqual([]);
  });

  it('logs an error from PostgreSQL with its cause and code, never the query parameters or the row it conflicts with', async () => {
    const localPart = `pg-error-${randomUUID().slice(0, 8)}`;
    const email = `${localPart}@example.com`;
    await h.db.insert(schema.users).values({ id: randomUUID(), email, name: 'First' });
    const duplicate = (await h.db.insert(schema.users).values({ id: randomUUID(), email, name: 'Second' }).catch((err: unknown) => err)) as Error;
    const unstorable = (await h.db
      .insert(schema.users)
      .values({ id: randomUUID(), email: `other-${email}`, name: 'Ada\u0000Lovelace' })
      .catch((err: unknown) => err)) as Error;
    expect(duplicate).toBeInstanceOf(Error);
    expect(unstorable).toBeInstanceOf(Error);

    const written: string[] = [];
    const log = createLogger(
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          written.push(chunk.toString());
          done();
        },
      }),
      { level: 'info' },
    );
    // `err` as the service logs errors, `error` as the Temporal SDK's activity and workflow loggers do.
    log.error({ err: duplicate }, 'could not create the user');
    log.warn({ error: unstorable }, 'Activity failed');

    expect(written.join('').toLowerCase()).not.toContain(localPart);
    const [first, second] = written.map((line) => JSON.parse(line) as { err?: { message: string; code?: string }; error?: { message: string; code?: string } });
    expect(first!.err).toMatchObject({ code: '23505', message: expect.stringContaining('duplicate key value violates unique constraint') });
    expect(first!.err!.message).toContain('insert into "users"');
    expect(second!.error).toMatchObject({ code: '22021', message: expect.stringContaining('invalid byte sequence') });
  });
});
