import { randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker, type WorkerOptions } from '@temporalio/worker';
import { eq, inArray } from 'drizzle-orm';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import * as schema from '../../db/schema';
import { parseConfig, type Config } from '../../src/config';
import { DEFAULT_CHECKOUT_TIMEOUTS, type CheckoutDeps } from '../../src/application/checkouts/deps';
import { startCheckout } from '../../src/application/checkouts/start';
import { connectDatabase, type DatabaseHandle } from '../../db/client';
import { logger } from '../../src/logger';
import { temporalDataConverter } from '../../src/temporal/data-converter';
import {
  TERMINAL_STATUSES,
  checkoutWorkflowId,
  paymentEventSignal,
  statusQuery,
  type CheckoutInput,
  type CheckoutResult,
  type CheckoutState,
  type CheckoutStatus,
} from '../../src/workflows/checkout/contract';
import { createCheckoutWorker } from '../../src/workers/checkout-worker';
import { createWorkerResources, type WorkerResources } from '../../src/workers/resources';
import { EmulatorClient } from './emulator';

export interface ReceivedEvent {
  key: string;
  partition: number;
  offset: string;
  id: string;
  type: string;
  /** The CloudEvent's `time`: part of what a re-sent event must repeat exactly. */
  time: string;
  data: Record<string, unknown> & { sequence: number; orderId: string };
}

export interface HarnessOptions {
  /** Worker interceptors, e.g. test/support/faults.ts to fail or hold a step. */
  interceptors?: WorkerOptions['interceptors'];
  /** Extra or overriding service environment (e.g. another KAFKA_BROKERS). */
  env?: Record<string, string>;
  /** Start the in-process worker at once (default true). */
  startWorker?: boolean;
}

export interface SagaHarness {
  config: Config;
  database: DatabaseHandle;
  db: DatabaseHandle['db'];
  client: Client;
  taskQueue: string;
  emulator: EmulatorClient;
  seedProduct(p?: { stock?: number; priceMinor?: number; currency?: string; name?: string }): Promise<string>;
  stock(sku: string): Promise<number>;
  checkoutInput(overrides?: Partial<CheckoutInput>): CheckoutInput;
  startCheckout(overrides?: Partial<CheckoutInput>): Promise<{ input: CheckoutInput; handle: WorkflowHandle }>;
  waitForStatus(checkoutId: string, wanted: (s: CheckoutState) => boolean, timeoutMs?: number): Promise<CheckoutState>;
  result(checkoutId: string): Promise<CheckoutResult>;
  /** What POST /webhooks/stripe sends the saga for an intent, taken from Stripe's own view of it. */
  deliverPaymentWebhook(checkoutId: string, paymentIntentId: string): Promise<void>;
  events(orderId: string, until: (events: ReceivedEvent[]) => boolean, timeoutMs?: number): Promise<ReceivedEvent[]>;
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  /** Every checkout this harness started: charged money has a confirmed order or an equal refund. */
  assertNoChargeWithoutOrderOrRefund(): Promise<void>;
  close(): Promise<void>;
}

let runtimeInstalled = false;
/** The SDK logs every state change and every (deliberately injected) activity failure; a test run needs only errors. */
function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Already installed by an earlier harness in this jest worker.
  }
}

/** Reads the stack's environment, set by test/setup/global-setup.ts; fails loudly when it is missing. */
export function stackEnv(): NodeJS.ProcessEnv {
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'KAFKA_BROKERS', 'STRIPE_API_URL']) {
    if (!process.env[name]) throw new Error(`${name} is not set: run the tests with \`npm test\`, which starts the local stack`);
  }
  return process.env;
}

/**
 * A real worker on its own task queue, against the real stack: Temporal, PostgreSQL, Kafka and the
 * Stripe emulator. Each test file gets its own, with its own SKUs, so files never share state.
 */
export async function startSagaHarness(options: HarnessOptions = {}): Promise<SagaHarness> {
  installQuietRuntime();
  const taskQueue = `test-${randomUUID()}`;
  const config = parseConfig({ ...stackEnv(), TEMPORAL_TASK_QUEUE: taskQueue, ...options.env });
  const database = connectDatabase(config.DATABASE_URL, 5);
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: temporalDataConverter(config) });
  const emulator = new EmulatorClient(config.STRIPE_API_URL!, config.STRIPE_SECRET_KEY);
  const started: CheckoutInput[] = [];
  const checkoutDeps: CheckoutDeps = { db: database.db, temporal: client, config, logger: logger.child({ component: 'harness' }), timeouts: DEFAULT_CHECKOUT_TIMEOUTS };

  let nativeConnection: NativeConnection | undefined;
  let resources: WorkerResources | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;

  const received: ReceivedEvent[] = [];
  // The run's topic is shared by every suite: a record that is not an outcome event (another
  // test's bytes) is set aside, not thrown, since kafkajs would retry a throwing record forever and
  // this harness would see nothing after it.
  const unreadable: string[] = [];
  const kafka = new Kafka({ clientId: `harness-${taskQueue}`, brokers: config.KAFKA_BROKERS, logLevel: logLevel.NOTHING });
  const consumer: Consumer = kafka.consumer({ groupId: `harness-${taskQueue}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: config.KAFKA_TOPIC, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      let body: { id: string; type: string; time: string; data: ReceivedEvent['data'] };
      try {
        body = JSON.parse(String(message.value)) as typeof body;
      } catch {
        unreadable.push(`partition ${partition} offset ${message.offset}`);
        return;
      }
      received.push({ key: String(message.key), partition, offset: message.offset, id: body.id, type: body.type, time: body.time, data: body.data });
    },
  });

  const harness: SagaHarness = {
    config,
    database,
    db: database.db,
    client,
    taskQueue,
    emulator,

    async seedProduct(p = {}) {
      const sku = `SKU-${randomUUID().slice(0, 8)}`;
      await database.db.insert(schema.products).values({
        sku,
        name: p.name ?? `Test product ${sku}`,
        priceMinor: p.priceMinor ?? 1250,
        currency: p.currency ?? 'EUR',
        stockAvailable: p.stock ?? 10,
      });
      return sku;
    },

    async stock(sku) {
      const [row] = await database.db.select().from(schema.products).where(eq(schema.products.sku, sku));
      if (!row) throw new Error(`no product ${sku}`);
      return row.stockAvailable;
    },

    checkoutInput(overrides = {}) {
      return {
        checkoutId: randomUUID(),
        orderId: randomUUID(),
        customer: { email: `buyer-${randomUUID().slice(0, 8)}@example.com`, name: 'Test Buyer' },
        items: [],
        paymentMethodId: 'pm_card_visa',
        paymentActionTimeoutMs: 60_000,
        compensationRetryWindowMs: 60_000,
        ...overrides,
      };
    },

    async startCheckout(overrides = {}) {
      const input = harness.checkoutInput(overrides);
      started.push(input);
      // As the API starts it (the row first, then the saga), with the test's ids and clocks.
      const { checkoutId, orderId, customer, items, paymentMethodId, ...timings } = input;
      await startCheckout(checkoutDeps, { customer: { email: customer.email, name: customer.name }, items, paymentMethodId }, { ids: { checkoutId, orderId }, timings });
      return { input, handle: client.workflow.getHandle(checkoutWorkflowId(checkoutId)) };
    },

    async waitForStatus(checkoutId, wanted, timeoutMs = 60_000) {
      const handle = client.workflow.getHandle(checkoutWorkflowId(checkoutId));
      const deadline = Date.now() + timeoutMs;
      let last: CheckoutState | undefined;
      while (Date.now() < deadline) {
        try {
          last = await handle.query(statusQuery);
          if (wanted(last)) return last;
        } catch {
          // No worker yet or the workflow task is in flight: ask again.
        }
        await sleep(100);
      }
      throw new Error(`checkout ${checkoutId} did not reach the wanted state in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    },

    async result(checkoutId) {
      return client.workflow.getHandle(checkoutWorkflowId(checkoutId)).result() as Promise<CheckoutResult>;
    },

    async deliverPaymentWebhook(checkoutId, paymentIntentId) {
      const intent = await emulator.stripe.paymentIntents.retrieve(paymentIntentId);
      await client.workflow.getHandle(checkoutWorkflowId(checkoutId)).signal(paymentEventSignal, {
        stripeEventId: `evt_test_${paymentIntentId}_${intent.status}`,
        type: intent.status === 'succeeded' ? 'payment_intent.succeeded' : 'payment_intent.payment_failed',
        paymentIntentId,
        intentStatus: intent.status,
        ...(intent.last_payment_error?.message ? { failureMessage: intent.last_payment_error.message } : {}),
      });
    },

    async events(orderId, until, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const forOrder = received.filter((e) => e.key === orderId);
        if (until(forOrder)) return forOrder;
        if (Date.now() > deadline) {
          const skipped = unreadable.length > 0 ? ` (records on the topic that are not events: ${unreadable.join('; ')})` : '';
          throw new Error(`events for ${orderId} incomplete after ${timeoutMs} ms: ${forOrder.map((e) => e.type).join(', ')}${skipped}`);
        }
        await sleep(100);
      }
    },

    async startWorker() {
      if (worker) return;
      nativeConnection ??= await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
      resources = createWorkerResources(config);
      worker = await createCheckoutWorker({
        connection: nativeConnection,
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue,
        deps: resources.deps,
        dataConverter: temporalDataConverter(config),
        ...(config.WORKFLOW_BUNDLE_PATH ? { workflowBundlePath: config.WORKFLOW_BUNDLE_PATH } : {}),
        ...(options.interceptors ? { interceptors: options.interceptors } : {}),
      });
      running = worker.run();
    },

    async stopWorker() {
      if (!worker) return;
      worker.shutdown();
      await running;
      await resources?.close();
      worker = undefined;
      running = undefined;
      resources = undefined;
    },

    async assertNoChargeWithoutOrderOrRefund() {
      const ids = started.map((s) => s.checkoutId);
      if (ids.length === 0) return;
      const orders = await database.db.select().from(schema.orders).where(inArray(schema.orders.checkoutId, ids));
      const byCheckout = new Map(orders.map((o) => [o.checkoutId, o]));
      const problems: string[] = [];
      for (const id of ids) {
        const money = await emulator.moneyFor(id);
        if (money.captured === 0) continue;
        const order = byCheckout.get(id);
        const confirmed = order && ['CONFIRMED', 'PARTIALLY_REFUNDED', 'REFUNDED'].includes(order.status);
        if (!confirmed && money.refunded !== money.captured) {
          problems.push(`checkout ${id}: captured ${money.captured}, refunded ${money.refunded}, order ${order?.status ?? 'missing'}`);
        }
        if (money.charges > 1) problems.push(`checkout ${id}: charged ${money.charges} times`);
      }
      if (problems.length > 0) throw new Error(`money invariant broken:\n${problems.join('\n')}`);
    },

    async close() {
      await harness.stopWorker();
      await nativeConnection?.close();
      await consumer.disconnect();
      await connection.close();
      await database.close();
    },
  };

  if (options.startWorker !== false) await harness.startWorker();
  return harness;
}

export function isTerminal(status: CheckoutStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
