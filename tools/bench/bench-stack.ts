import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { products } from '../../db/schema';
import { connectDatabase, type DatabaseHandle } from '../../db/client';
import { parseConfig, type Config } from '../../src/config';
import { temporalDataConverter } from '../../src/temporal/data-converter';
import { DEV_PORTS, pickFreePort, startStack, type Stack, type StackPorts } from '../stack';
import { formatDuration, progress } from '../stack/progress';
import { stopAll, waitUntilHealthy, type ManagedProcess } from '../stack/processes';
import { spawnWorkerAndApi, startServiceProcess, waitForApi } from '../stack/service-processes';
import { buildWorkflowBundle } from '../../src/workers/build-workflow-bundle';
import type { TrackedProcess } from './proc-sampler';

/**
 * The stack the bench measures: the one `npm start` runs (dev mode: file-backed Temporal with WAL,
 * durable PostgreSQL, Kafka, stripe-mock, the Stripe emulator, the mail catcher; worker and API as
 * their own processes), but in a temp state dir and on free ports, so it never meets a running
 * `npm start`. DATABASE_URL / TEMPORAL_ADDRESS / KAFKA_BROKERS in the environment mean "use that
 * service" exactly as for `npm start`.
 *
 * Next to it, the empty-saga worker (tools/bench/empty-saga-worker.ts) on its own task queue. Both workers
 * load one prebuilt workflow bundle, so the ceiling runs the very code the checkouts run.
 */

export interface BenchStack {
  stack: Stack;
  apiUrl: string;
  /** The service processes' environment (what `npm start` gives them, plus the bench's queue and bundle). */
  serviceEnv: NodeJS.ProcessEnv;
  taskQueue: string;
  emptyTaskQueue: string;
  /** Bench products with stock that never runs out. */
  skus: string[];
  temporal: Client;
  /** The service's database and configuration, for starting empty sagas the way the API starts checkouts. */
  database: DatabaseHandle;
  config: Config;
  processes: { worker: ManagedProcess; api: ManagedProcess; emptyWorker: ManagedProcess };
  /** What the sampler watches: every process this run started, and the bench itself. */
  tracked(): TrackedProcess[];
  stop(): Promise<void>;
}

export interface BenchStackOptions {
  runId: string;
  keepState?: boolean;
  /** Skip the empty-saga worker (the soak does not need it). */
  emptySaga?: boolean;
}

const REPO_ROOT = path.resolve(__dirname, '../..');
const CONSUMERS_ENTRY = 'src/workers/consumers-main.ts';
const BENCH_PRODUCTS = 8;
/** int4 holds 2.1e9; a billion per product outlasts any soak. */
const BENCH_STOCK = 1_000_000_000;

/** A free port for every component of a dev-mode stack, so it never meets a running `npm start`. */
export async function freeStackPorts(): Promise<StackPorts> {
  return Object.fromEntries(
    await Promise.all((Object.keys(DEV_PORTS) as Array<keyof StackPorts>).map(async (k) => [k, await pickFreePort()] as const)),
  ) as unknown as StackPorts;
}

export async function startBenchStack(opts: BenchStackOptions): Promise<BenchStack> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'checkout-saga-bench-'));
  const ports = await freeStackPorts();
  const apiPort = await pickFreePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const bundlePath = path.join(stateDir, 'workflow-bundle.js');

  const started: ManagedProcess[] = [];
  let stack: Stack | undefined;
  let temporalConnection: Connection | undefined;
  let database: DatabaseHandle | undefined;
  const stop = async () => {
    // The service first, so in-flight work drains against a stack that is still up.
    await stopAll(started).catch(() => undefined);
    await temporalConnection?.close().catch(() => undefined);
    await database?.close().catch(() => undefined);
    await stack?.stop();
  };

  try {
    const bundleT0 = Date.now();
    const [stackResult, bundleResult] = await Promise.allSettled([
      startStack({ mode: 'dev', stateDir, ports, keepStateDir: opts.keepState ?? false, stripeWebhookUrl: `${apiUrl}/webhooks/stripe` }),
      buildWorkflowBundle(bundlePath).then(() => progress.line(`  ✓ ${'workflow bundle'.padEnd(24)} ${'src/workflows'.padEnd(26)} ${formatDuration(Date.now() - bundleT0)}`)),
    ]);
    if (stackResult.status === 'fulfilled') stack = stackResult.value;
    if (stackResult.status === 'rejected') throw stackResult.reason;
    if (bundleResult.status === 'rejected') throw bundleResult.reason;
    const s = stack!;

    const skus = await seedBenchProducts(s.env.DATABASE_URL, opts.runId);
    const taskQueue = `bench-checkout-${opts.runId}`;
    const emptyTaskQueue = `bench-empty-saga-${opts.runId}`;
    const serviceEnv: NodeJS.ProcessEnv = {
      ...process.env,
      ...s.env,
      PORT: String(apiPort),
      APP_URL: apiUrl,
      WORKFLOW_BUNDLE_PATH: bundlePath,
      // Its own queue: against an external Temporal, a developer's worker must not take our checkouts.
      TEMPORAL_TASK_QUEUE: taskQueue,
      WORKER_METRICS_PORT: String(await pickFreePort()),
      API_METRICS_PORT: String(await pickFreePort()),
      // The load generator is one client address: per-client limits would measure themselves, not the saga.
      RATE_LIMIT_CHECKOUTS_PER_MINUTE: '0',
      RATE_LIMIT_CANCELS_PER_MINUTE: '0',
      RATE_LIMIT_LOGINS_PER_MINUTE: '0',
      CHECKOUT_MAX_IN_FLIGHT_PER_CLIENT: '0',
    };

    const t0 = Date.now();
    const { worker, api } = await spawnWorkerAndApi({ env: serviceEnv, stateDir, port: apiPort, output: 'log' });
    started.push(worker, api);
    const emptyWorker =
      opts.emptySaga === false
        ? undefined
        : await startServiceProcess({
            name: 'empty-saga-worker',
            label: 'empty-saga worker',
            entry: 'tools/bench/empty-saga-worker.ts',
            env: { ...serviceEnv, TEMPORAL_TASK_QUEUE: emptyTaskQueue, WORKER_METRICS_PORT: String(await pickFreePort()) },
            stateDir,
            output: 'log',
          });
    if (emptyWorker) started.push(emptyWorker);
    // npm start also runs the downstream consumers (order history, notification mails); they read
    // every event and write PostgreSQL and SMTP, so they share the machine with the saga.
    const consumers = existsSync(path.join(REPO_ROOT, CONSUMERS_ENTRY))
      ? await startServiceProcess({ name: 'consumers', label: 'consumers', entry: CONSUMERS_ENTRY, env: serviceEnv, stateDir, output: 'log' })
      : undefined;
    if (consumers) started.push(consumers);

    const config = parseConfig(serviceEnv);
    temporalConnection = await Connection.connect({ address: s.env.TEMPORAL_ADDRESS });
    const temporal = new Client({ connection: temporalConnection, namespace: s.env.TEMPORAL_NAMESPACE, dataConverter: temporalDataConverter(config) });
    database = connectDatabase(config.DATABASE_URL, 4);
    await waitForApi(apiPort, api);
    await waitForPollers(temporal, s.env.TEMPORAL_NAMESPACE, taskQueue, worker);
    if (emptyWorker) await waitForPollers(temporal, s.env.TEMPORAL_NAMESPACE, emptyTaskQueue, emptyWorker);
    progress.line(`  ✓ ${'worker + API (+ empty)'.padEnd(24)} ${apiUrl.replace('http://', '').padEnd(26)} ${formatDuration(Date.now() - t0)}`);

    // A function: Kafka's handle can restart its broker, so its process is looked up each time.
    const components = (): Array<[string, ManagedProcess | undefined]> => [
      ['API', api],
      ['worker', worker],
      ['empty-saga worker', emptyWorker],
      ['consumers', consumers],
      ['Temporal', s.components.temporal?.process],
      ['Kafka', s.components.kafka?.process()],
      ['PostgreSQL', s.components.postgres?.process],
      ['Stripe emulator', s.components.stripeEmulator?.process],
      ['stripe-mock', s.components.stripeMock?.process],
      ['mail catcher', s.components.mail?.process],
    ];
    return {
      stack: s,
      apiUrl,
      serviceEnv,
      taskQueue,
      emptyTaskQueue,
      skus,
      temporal,
      database,
      config,
      processes: { worker, api, emptyWorker: emptyWorker ?? worker },
      tracked: () => [
        ...components().filter((c): c is [string, ManagedProcess] => c[1] !== undefined && !c[1].hasExited()).map(([label, p]) => ({ label, pid: p.pid, tree: true })),
        { label: 'bench (load generator)', pid: process.pid, tree: false },
      ],
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

async function seedBenchProducts(databaseUrl: string, runId: string): Promise<string[]> {
  const db = connectDatabase(databaseUrl, 1);
  try {
    const rows = Array.from({ length: BENCH_PRODUCTS }, (_, i) => ({
      sku: `BENCH-${runId}-${i + 1}`,
      name: `Bench plan ${i + 1}`,
      description: 'Seeded by npm run bench',
      priceMinor: 1250 + i * 100,
      currency: 'EUR',
      stockAvailable: BENCH_STOCK,
    }));
    await db.db.insert(products).values(rows).onConflictDoNothing();
    return rows.map((r) => r.sku);
  } finally {
    await db.close();
  }
}

/** A worker is ready once its workflow pollers reach the server; before that, starts only queue up. */
export async function waitForPollers(client: Client, namespace: string, taskQueue: string, worker: ManagedProcess): Promise<void> {
  await waitUntilHealthy(
    `worker on ${taskQueue}`,
    async () => {
      const res = await client.workflowService.describeTaskQueue({ namespace, taskQueue: { name: taskQueue } });
      return (res.pollers ?? []).length > 0;
    },
    { timeoutMs: 90_000, intervalMs: 300, process: worker },
  );
}
