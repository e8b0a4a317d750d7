import { closeSync, mkdtempSync, openSync, readSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { products } from '../../../db/schema';
import { connectDatabase } from '../../../db/client';
import { startStack, startTemporal, pickFreePort, type Stack } from '../../stack';
import { formatDuration, progress } from '../../stack/progress';
import { assertPortFree, waitUntilHealthy, type ExitInfo, type ManagedProcess } from '../../stack/processes';
import { startServiceProcess, waitForApi } from '../../stack/service-processes';
import { buildWorkflowBundle } from '../../../src/workers/build-workflow-bundle';
import { freeStackPorts } from '../bench-stack';
import { startBalancer, type Balancer } from './balancer';

/**
 * The stack the fault soak runs on: what `npm start` runs (dev mode, so Temporal keeps its state in
 * a SQLite file and survives being killed), in a temp state dir on free ports, with N instances of
 * each service process (worker, API, consumers) and a load balancer in front of the APIs. The soak
 * kills, freezes and restarts these processes, so it always starts every component itself:
 * DATABASE_URL, TEMPORAL_ADDRESS, KAFKA_BROKERS, STRIPE_SECRET_KEY and SMTP_URL are ignored.
 *
 * A process that exits without being killed by a scenario is restarted after a short delay, as a
 * supervisor (systemd, Kubernetes) would, and every such exit is kept for the report.
 */

export type ServiceKind = 'worker' | 'api' | 'consumers';
export const SERVICE_KINDS: readonly ServiceKind[] = ['worker', 'api', 'consumers'];

const SERVICES: Record<ServiceKind, { entry: string; label: string; readyLine?: string }> = {
  worker: { entry: 'src/workers/main.ts', label: 'worker', readyLine: '"msg":"worker started"' },
  api: { entry: 'src/api/main.ts', label: 'API' },
  consumers: { entry: 'src/workers/consumers-main.ts', label: 'consumers', readyLine: '"msg":"consumers started"' },
};

export type InfraComponent = 'Temporal' | 'Kafka' | 'PostgreSQL';

/** Ignored here: the soak must own each of these to freeze or kill it. */
const EXTERNAL_SERVICE_VARIABLES = ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'KAFKA_BROKERS', 'STRIPE_SECRET_KEY', 'STRIPE_API_URL', 'SMTP_URL'];

const READY_TIMEOUT_MS = 120_000;
/** A supervisor's restart delay, doubled (to a minute) while a process keeps dying right after its start. */
const RESTART_DELAY_MS = 2_000;

export interface UnexpectedExit {
  process: string;
  at: string;
  how: string;
  lastLogLine: string;
}

export interface SoakProduct {
  sku: string;
  priceMinor: number;
  initialStock: number;
  lowStock: boolean;
}

export class ServiceInstance {
  private current: ManagedProcess | undefined;
  private expectingExit = false;
  private startedAt = 0;
  private restartDelayMs = RESTART_DELAY_MS;
  /** Starts after the first, whoever asked for them. */
  restarts = 0;

  constructor(
    readonly kind: ServiceKind,
    readonly index: number,
    private readonly opts: {
      env: NodeJS.ProcessEnv;
      stateDir: string;
      port?: number;
      onUnexpectedExit(instance: ServiceInstance, info: ExitInfo): void;
      stopping(): boolean;
    },
  ) {}

  get name(): string {
    return `${this.kind}-${this.index}`;
  }

  get label(): string {
    return `${SERVICES[this.kind].label} ${this.index}`;
  }

  get port(): number | undefined {
    return this.opts.port;
  }

  get pid(): number | undefined {
    return this.current?.pid;
  }

  get logFile(): string {
    return path.join(this.opts.stateDir, 'logs', `${this.name}.log`);
  }

  alive(): boolean {
    return this.current !== undefined && !this.current.hasExited();
  }

  /** Starts the process (again) and returns once it serves: the API answers /healthz, the others logged their start. */
  async start(): Promise<void> {
    // A scenario or the supervisor may ask while the run is stopping: nothing would stop it again.
    if (this.alive() || this.opts.stopping()) return;
    if (this.current) this.restarts++;
    const offset = fileSize(this.logFile);
    if (this.opts.port !== undefined) await assertPortFree(this.opts.port, this.label);
    const spec = SERVICES[this.kind];
    const proc = await startServiceProcess({ name: this.name, label: this.label, entry: spec.entry, env: this.opts.env, stateDir: this.opts.stateDir, output: 'log' });
    this.current = proc;
    this.expectingExit = false;
    this.startedAt = Date.now();
    if (this.opts.stopping()) {
      await this.stop();
      return;
    }
    void proc.exited.then((info) => {
      if (this.current !== proc || this.expectingExit || this.opts.stopping()) return;
      this.opts.onUnexpectedExit(this, info);
      // Crash-looping: back off like a supervisor does, rather than restart as fast as it dies.
      this.restartDelayMs = Date.now() - this.startedAt < 10_000 ? Math.min(this.restartDelayMs * 2, 60_000) : RESTART_DELAY_MS;
      setTimeout(() => {
        if (!this.opts.stopping() && this.current === proc) this.start().catch(() => undefined);
      }, this.restartDelayMs).unref();
    });
    if (spec.readyLine) {
      const line = spec.readyLine;
      await waitUntilHealthy(this.label, async () => logContains(this.logFile, offset, line), { timeoutMs: READY_TIMEOUT_MS, intervalMs: 250, process: proc });
    } else {
      await waitForApi(this.opts.port!, proc, READY_TIMEOUT_MS);
    }
  }

  /** SIGKILL to its process group: no shutdown hook runs, in-flight work is simply gone. */
  async kill(): Promise<void> {
    const proc = this.current;
    if (!proc || proc.hasExited()) return;
    this.expectingExit = true;
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // Exited by itself meanwhile.
    }
    await proc.exited;
  }

  /** Graceful stop (SIGTERM, then SIGKILL after the grace period), at the end of the run. */
  async stop(): Promise<void> {
    this.expectingExit = true;
    await this.current?.stop();
  }
}

export interface FaultStack {
  stack: Stack;
  stateDir: string;
  /** The load balancer in front of the API instances: what customers and webhooks reach. */
  apiUrl: string;
  balancer: Balancer;
  serviceEnv: NodeJS.ProcessEnv;
  taskQueue: string;
  instances: ServiceInstance[];
  catalog: SoakProduct[];
  unexpectedExits: UnexpectedExit[];
  /** The running process of an infrastructure component (looked up each time: Temporal may have been restarted). */
  infra(component: InfraComponent): ManagedProcess | undefined;
  killTemporal(): Promise<void>;
  /** False when the run is stopping and Temporal was left down. */
  startTemporal(): Promise<boolean>;
  /** Waits until every process runs and every API instance is ready (PostgreSQL, Temporal, Kafka answer); returns what is still wrong. */
  waitHealthy(timeoutMs: number): Promise<string[]>;
  stop(opts: { keepState: boolean }): Promise<void>;
}

export interface FaultStackOptions {
  runId: string;
  /** Instances of each service process. */
  instances: number;
  /** Stock of each low-stock product. */
  lowStock: number;
  /** Extra service environment (the saga timings the soak runs with). */
  serviceEnv: Record<string, string>;
}

const NORMAL_PRODUCTS = 4;
const LOW_STOCK_PRODUCTS = 3;
/** int4 holds 2.1e9: stock that never runs out. */
const UNLIMITED_STOCK = 1_000_000_000;

export async function startFaultStack(opts: FaultStackOptions): Promise<FaultStack> {
  const ignored = EXTERNAL_SERVICE_VARIABLES.filter((name) => process.env[name]);
  if (ignored.length) progress.line(`  ! ignoring ${ignored.join(', ')}: the fault soak starts, freezes and kills every component itself`);
  const ownEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !EXTERNAL_SERVICE_VARIABLES.includes(k)));
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'checkout-saga-faults-'));
  const ports = await freeStackPorts();
  const apiPorts = await Promise.all(Array.from({ length: opts.instances }, () => pickFreePort()));
  const balancer = await startBalancer(apiPorts.map((port, i) => ({ name: `API ${i + 1}`, port })));
  const bundlePath = path.join(stateDir, 'workflow-bundle.js');

  let stack: Stack | undefined;
  let stopping = false;
  const instances: ServiceInstance[] = [];
  const unexpectedExits: UnexpectedExit[] = [];
  const stopAllOf = async (keepState: boolean) => {
    stopping = true;
    // The service first, so in-flight work drains against a stack that is still up.
    await Promise.allSettled(instances.map((i) => i.stop()));
    await balancer.close().catch(() => undefined);
    await stack?.stop().catch(() => undefined);
    if (!keepState) await fs.rm(stateDir, { recursive: true, force: true });
  };

  try {
    const bundleT0 = Date.now();
    const [stackResult, bundleResult] = await Promise.allSettled([
      startStack({ mode: 'dev', stateDir, ports, env: ownEnv, keepStateDir: true, stripeWebhookUrl: `${balancer.url}/webhooks/stripe` }),
      buildWorkflowBundle(bundlePath).then(() => progress.line(`  ✓ ${'workflow bundle'.padEnd(24)} ${'src/workflows'.padEnd(26)} ${formatDuration(Date.now() - bundleT0)}`)),
    ]);
    if (stackResult.status === 'fulfilled') stack = stackResult.value;
    if (stackResult.status === 'rejected') throw stackResult.reason;
    if (bundleResult.status === 'rejected') throw bundleResult.reason;
    const s = stack!;

    const catalog = await seedProducts(s.env.DATABASE_URL, opts.runId, opts.lowStock);
    const taskQueue = `faults-checkout-${opts.runId}`;
    const serviceEnv: NodeJS.ProcessEnv = {
      ...ownEnv,
      ...s.env,
      ...opts.serviceEnv,
      APP_URL: balancer.url,
      WORKFLOW_BUNDLE_PATH: bundlePath,
      TEMPORAL_TASK_QUEUE: taskQueue,
      // Readiness after a restart is read from the `worker started` / `consumers started` log lines.
      LOG_LEVEL: ['trace', 'debug', 'info'].includes(ownEnv.LOG_LEVEL ?? '') ? ownEnv.LOG_LEVEL : 'info',
    };
    const onUnexpectedExit = (instance: ServiceInstance, info: ExitInfo) => {
      const how = info.error ? info.error.message : info.signal ? `signal ${info.signal}` : `exit code ${String(info.code)}`;
      void lastLines(instance.logFile).then((line) => {
        unexpectedExits.push({ process: instance.label, at: new Date().toISOString(), how, lastLogLine: line });
        progress.line(`  ! ${instance.label} exited by itself (${how}); restarting it. Last log line: ${line}`);
      });
    };
    for (const kind of SERVICE_KINDS) {
      for (let i = 1; i <= opts.instances; i++) {
        const port = kind === 'api' ? apiPorts[i - 1] : undefined;
        const env: NodeJS.ProcessEnv = {
          ...serviceEnv,
          ...(port !== undefined ? { PORT: String(port) } : {}),
          // Each instance its own internal metrics port: two on one machine would clash on the default.
          ...(kind === 'worker' ? { WORKER_METRICS_PORT: String(await pickFreePort()) } : {}),
          // Behind the soak's balancer, as behind any: the client is who the balancer says it is.
          ...(kind === 'api' ? { API_METRICS_PORT: String(await pickFreePort()), TRUST_PROXY: 'loopback' } : {}),
        };
        instances.push(new ServiceInstance(kind, i, { env, stateDir, port, onUnexpectedExit, stopping: () => stopping }));
      }
    }
    const t0 = Date.now();
    await Promise.all(instances.map((i) => i.start()));
    progress.line(`  ✓ ${`${opts.instances} x worker, API, consumers`.padEnd(24)} ${balancer.url.replace('http://', '').padEnd(26)} ${formatDuration(Date.now() - t0)}`);

    const temporalOptions = () => ({
      stateDir,
      port: s.ports.temporal,
      uiPort: s.ports.temporalUi,
      httpPort: s.ports.temporalHttp,
      metricsPort: s.ports.temporalMetrics,
      // The same file startStack gives it in dev mode: the restarted server finds every workflow.
      dbFile: path.join(stateDir, 'temporal.sqlite'),
      namespace: s.env.TEMPORAL_NAMESPACE,
    });
    const infra = (component: InfraComponent): ManagedProcess | undefined => {
      if (component === 'Temporal') return s.components.temporal?.process;
      if (component === 'Kafka') return s.components.kafka?.process();
      return s.components.postgres?.process;
    };

    return {
      stack: s,
      stateDir,
      apiUrl: balancer.url,
      balancer,
      serviceEnv,
      taskQueue,
      instances,
      catalog,
      unexpectedExits,
      infra,
      async killTemporal() {
        const proc = infra('Temporal');
        if (!proc || proc.hasExited()) return;
        process.kill(-proc.pid, 'SIGKILL');
        await proc.exited;
      },
      async startTemporal() {
        if (infra('Temporal') && !infra('Temporal')!.hasExited()) return true;
        if (stopping) return false;
        // The stack's stop() stops whatever handle is here, so the new server is stopped with it.
        s.components.temporal = await startTemporal(temporalOptions());
        // The run began stopping while it started: the stack's stop() has already passed it by.
        if (stopping) await s.components.temporal.stop();
        return !stopping;
      },
      async waitHealthy(timeoutMs: number) {
        const deadline = Date.now() + timeoutMs;
        let problems: string[] = [];
        for (;;) {
          problems = await healthProblems(instances, infra);
          if (problems.length === 0 || Date.now() > deadline) return problems;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      },
      stop: ({ keepState }) => stopAllOf(keepState),
    };
  } catch (err) {
    await stopAllOf(false).catch(() => undefined);
    throw err;
  }
}

async function healthProblems(instances: ServiceInstance[], infra: (c: InfraComponent) => ManagedProcess | undefined): Promise<string[]> {
  const problems: string[] = [];
  for (const component of ['Temporal', 'Kafka', 'PostgreSQL'] as const) {
    const proc = infra(component);
    if (!proc || proc.hasExited()) problems.push(`${component} is not running`);
  }
  for (const instance of instances) {
    if (!instance.alive()) {
      problems.push(`${instance.label} is not running`);
      continue;
    }
    if (instance.kind !== 'api') continue;
    // /readyz asks PostgreSQL, Temporal and Kafka through this instance's own clients.
    try {
      const res = await fetch(`http://127.0.0.1:${instance.port}/readyz`, { signal: AbortSignal.timeout(5_000) });
      const body = await res.text();
      if (res.status !== 200) problems.push(`${instance.label} /readyz answers ${res.status}: ${body.slice(0, 200)}`);
    } catch (err) {
      problems.push(`${instance.label} /readyz: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return problems;
}

async function seedProducts(databaseUrl: string, runId: string, lowStock: number): Promise<SoakProduct[]> {
  const catalog: SoakProduct[] = [
    ...Array.from({ length: NORMAL_PRODUCTS }, (_, i) => ({ sku: `SOAK-${runId}-${i + 1}`, priceMinor: 1500 + i * 250, initialStock: UNLIMITED_STOCK, lowStock: false })),
    ...Array.from({ length: LOW_STOCK_PRODUCTS }, (_, i) => ({ sku: `SOAK-${runId}-LOW-${i + 1}`, priceMinor: 4900 + i * 500, initialStock: lowStock, lowStock: true })),
  ];
  const db = connectDatabase(databaseUrl, 1);
  try {
    await db.db.insert(products).values(
      catalog.map((p) => ({
        sku: p.sku,
        name: p.lowStock ? `Limited edition ${p.sku.slice(-1)}` : `Soak plan ${p.sku.slice(-1)}`,
        description: 'Seeded by npm run faults',
        priceMinor: p.priceMinor,
        currency: 'EUR',
        stockAvailable: p.initialStock,
      })),
    );
    return catalog;
  } finally {
    await db.close();
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Whether the log has `needle` after byte `offset`: this start's lines, not an earlier run's. */
function logContains(file: string, offset: number, needle: string): boolean {
  const size = fileSize(file);
  if (size <= offset) return false;
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(size - offset);
    readSync(fd, buffer, 0, buffer.length, offset);
    return buffer.toString('utf8').includes(needle);
  } finally {
    closeSync(fd);
  }
}

async function lastLines(file: string): Promise<string> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const lines = text.trim().split('\n');
  return (lines.at(-1) ?? '(empty log)').slice(0, 300);
}
