import { mkdtempSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EMULATOR_SECRET_KEY, parseConfig } from '../../src/config';
import { applyMigrations } from '../../db/migrate';
import { startKafka, KAFKA_VERSION, type KafkaHandle } from './kafka';
import { startMailCatcher, type MailCatcherHandle } from './mailcatcher';
import { startPostgres, type PostgresHandle } from './postgres';
import { startStripeEmulator, stripeEmulatorAvailable, STRIPE_EMULATOR_ENTRY, type StripeEmulatorHandle } from './stripe-emulator';
import { startStripeMock, STRIPE_MOCK_VERSION, type StripeMockHandle } from './stripe-mock';
import { startTemporal, TEMPORAL_SERVER_VERSION, type TemporalHandle } from './temporal';
import { formatDuration, progress } from './progress';
import { pickFreePort, processStartTime, StackError, stopAll } from './processes';

/**
 * The local stack: every service the checkout service needs, real and on loopback, started in
 * parallel. `npm start` runs it in dev mode (fixed ports, state kept in `.stack/`), the test
 * set-up in test mode (every port chosen free at run time, a fresh temp state dir), so any number
 * of test runs and a dev stack can share one machine.
 */

export { startKafka, ensureKafkaJars, groupCoordinatorReady, KAFKA_VERSION, type KafkaHandle, type KafkaOptions } from './kafka';
export { startPostgres, createDatabaseIfMissing, type PostgresHandle, type PostgresOptions } from './postgres';
export { startTemporal, ensureTemporalServer, ensureTemporalUi, SEARCH_ATTRIBUTES, TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION, type TemporalHandle, type TemporalOptions } from './temporal';
export { startStripeMock, ensureStripeMock, STRIPE_MOCK_VERSION, type StripeMockHandle } from './stripe-mock';
export { startStripeEmulator, type StripeEmulatorHandle } from './stripe-emulator';
export { startMailCatcher, type MailCatcherHandle } from './mailcatcher';
export { assertPortFree, pickFreePort, runningProcesses, PortInUseError, MissingToolError, StackError } from './processes';

export type StackMode = 'dev' | 'test';

export type Component = 'postgres' | 'temporal' | 'kafka' | 'stripeMock' | 'stripeEmulator' | 'mail';
const ALL_COMPONENTS: Component[] = ['postgres', 'temporal', 'kafka', 'stripeMock', 'stripeEmulator', 'mail'];

export interface StackPorts {
  postgres: number;
  temporal: number;
  temporalUi: number;
  temporalHttp: number;
  temporalMetrics: number;
  kafka: number;
  kafkaController: number;
  stripeEmulator: number;
  stripeMock: number;
  smtp: number;
  mailInbox: number;
}

/** Dev defaults (DESIGN.md) and the variable that overrides each one. */
export const DEV_PORTS: { [K in keyof StackPorts]: { env: string; port: number } } = {
  postgres: { env: 'POSTGRES_PORT', port: 54320 },
  temporal: { env: 'TEMPORAL_PORT', port: 7233 },
  temporalUi: { env: 'TEMPORAL_UI_PORT', port: 8233 },
  temporalHttp: { env: 'TEMPORAL_HTTP_PORT', port: 7243 },
  temporalMetrics: { env: 'TEMPORAL_METRICS_PORT', port: 7244 },
  kafka: { env: 'KAFKA_PORT', port: 9092 },
  kafkaController: { env: 'KAFKA_CONTROLLER_PORT', port: 9093 },
  stripeEmulator: { env: 'STRIPE_EMULATOR_PORT', port: 12121 },
  stripeMock: { env: 'STRIPE_MOCK_PORT', port: 12111 },
  smtp: { env: 'SMTP_PORT', port: 1025 },
  mailInbox: { env: 'MAIL_INBOX_PORT', port: 1080 },
};

export interface StackOptions {
  mode: StackMode;
  /** dev: `<repo>/.stack`; test: a fresh temp dir, removed by a clean stop(). */
  stateDir?: string;
  /** Overrides for single ports; everything else comes from the mode. */
  ports?: Partial<StackPorts>;
  /** Start only these (and skip the rest); default all. */
  components?: Component[];
  /** Read for `*_PORT` overrides and external services (`DATABASE_URL`, ...); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Apply the drizzle migrations to DATABASE_URL once PostgreSQL answers (default true). */
  migrate?: boolean;
  /** Where the emulator delivers webhooks; dev: the API's `/webhooks/stripe`. */
  stripeWebhookUrl?: string;
  /** The codec server the Temporal Web UI decrypts payloads with (`npm start` runs it). */
  uiCodecEndpoint?: string;
  /** Keep a test-mode state dir after stop (default: kept only when STACK_KEEP_STATE=1). */
  keepStateDir?: boolean;
}

/** The service's environment: exactly the variables src/config.ts reads, plus two for tests. */
export interface StackEnv {
  DATABASE_URL: string;
  TEMPORAL_ADDRESS: string;
  TEMPORAL_NAMESPACE: string;
  TEMPORAL_UI_URL?: string;
  KAFKA_BROKERS: string;
  STRIPE_SECRET_KEY: string;
  STRIPE_API_URL?: string;
  STRIPE_WEBHOOK_SECRET: string;
  STRIPE_MOCK_URL?: string;
  SMTP_URL: string;
  MAIL_INBOX_URL?: string;
  STACK_STATE_DIR: string;
}

export interface Stack {
  mode: StackMode;
  env: StackEnv;
  stateDir: string;
  ports: StackPorts;
  /** Handles of the components this stack started (absent: external or not requested). */
  components: {
    postgres?: PostgresHandle;
    temporal?: TemporalHandle;
    kafka?: KafkaHandle;
    stripeMock?: StripeMockHandle;
    stripeEmulator?: StripeEmulatorHandle;
    mail?: MailCatcherHandle;
  };
  /** Stops every component (in parallel, each SIGTERM then SIGKILL after its grace period). */
  stop(): Promise<void>;
}

const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const DEV_STATE_DIR = path.join(REPO_ROOT, '.stack');

export async function startStack(options: StackOptions): Promise<Stack> {
  const started = Date.now();
  const env = options.env ?? process.env;
  const wanted = new Set(options.components ?? ALL_COMPONENTS);
  const ports = await resolvePorts(options.mode, env, options.ports);
  const stateDir = path.resolve(options.stateDir ?? (options.mode === 'dev' ? DEV_STATE_DIR : await newTestStateDir()));
  await fs.mkdir(stateDir, { recursive: true });
  const defaults = parseConfig({});

  // A variable set in the environment means "use that service": the component is not started.
  const external = {
    postgres: env.DATABASE_URL,
    temporal: env.TEMPORAL_ADDRESS,
    kafka: env.KAFKA_BROKERS,
    // The emulator's own key means "the emulator", so it does not count as an external Stripe.
    stripe: env.STRIPE_SECRET_KEY && env.STRIPE_SECRET_KEY !== EMULATOR_SECRET_KEY ? env.STRIPE_SECRET_KEY : undefined,
    mail: env.SMTP_URL,
  };
  const runs = (c: Component, externalValue: string | undefined) => wanted.has(c) && !externalValue;
  const partitions = Number(env.KAFKA_TOPIC_PARTITIONS ?? defaults.KAFKA_TOPIC_PARTITIONS);
  const webhookSecret = env.STRIPE_WEBHOOK_SECRET || defaults.STRIPE_WEBHOOK_SECRET;
  let emulatorWanted = runs('stripeEmulator', external.stripe);
  if (emulatorWanted && !stripeEmulatorAvailable()) {
    progress.line(`  ! Stripe emulator not started: ${path.relative(REPO_ROOT, STRIPE_EMULATOR_ENTRY)} does not exist yet`);
    emulatorWanted = false;
  }

  progress.line(`Starting the local stack (${options.mode}) in ${stateDir}`);
  const components: Stack['components'] = {};
  const timed = async <T>(label: string, where: string, start: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const result = await start();
    progress.line(`  ✓ ${label.padEnd(24)} ${where.padEnd(26)} ${formatDuration(Date.now() - t0)}`);
    return result;
  };
  const hint = options.mode === 'dev';
  const portEnv = (k: keyof StackPorts) => (hint ? DEV_PORTS[k].env : undefined);

  const postgresReady = runs('postgres', external.postgres)
    ? timed('PostgreSQL 18', `127.0.0.1:${ports.postgres}`, async () => {
        components.postgres = await startPostgres({ stateDir, port: ports.postgres, durable: options.mode === 'dev', portEnvVar: portEnv('postgres') });
        return components.postgres.url;
      })
    : Promise.resolve(external.postgres);
  const tasks: Array<Promise<unknown>> = [
    postgresReady.then(async (url) => {
      if (url && options.migrate !== false && wanted.has('postgres')) {
        await timed('migrations', 'db/migrations', () => applyMigrations(url));
      }
    }),
  ];
  if (runs('temporal', external.temporal)) {
    tasks.push(
      timed(`Temporal ${TEMPORAL_SERVER_VERSION}`, `127.0.0.1:${ports.temporal}`, async () => {
        components.temporal = await startTemporal({
          stateDir,
          port: ports.temporal,
          uiPort: ports.temporalUi,
          httpPort: ports.temporalHttp,
          metricsPort: ports.temporalMetrics,
          // dev: checkouts survive a restart; test: in memory, the fastest persistence there is.
          dbFile: options.mode === 'dev' ? path.join(stateDir, 'temporal.sqlite') : undefined,
          namespace: env.TEMPORAL_NAMESPACE || defaults.TEMPORAL_NAMESPACE,
          ...(options.uiCodecEndpoint ? { uiCodecEndpoint: options.uiCodecEndpoint } : {}),
          portEnvVars: { port: portEnv('temporal'), uiPort: portEnv('temporalUi'), httpPort: portEnv('temporalHttp'), metricsPort: portEnv('temporalMetrics') },
        });
      }),
    );
  }
  if (runs('kafka', external.kafka)) {
    tasks.push(
      timed(`Kafka ${KAFKA_VERSION} (KRaft)`, `127.0.0.1:${ports.kafka}`, async () => {
        components.kafka = await startKafka({
          port: ports.kafka,
          controllerPort: ports.kafkaController,
          dataDir: path.join(stateDir, 'kafka'),
          stateDir,
          topics: { topic: env.KAFKA_TOPIC || defaults.KAFKA_TOPIC, dlqTopic: env.KAFKA_DLQ_TOPIC || defaults.KAFKA_DLQ_TOPIC, partitions },
          portEnvVars: { port: portEnv('kafka'), controllerPort: portEnv('kafkaController') },
        });
      }),
    );
  }
  const stripeMockWanted = runs('stripeMock', external.stripe);
  const stripeMockReady = stripeMockWanted
    ? timed(`stripe-mock ${STRIPE_MOCK_VERSION}`, `127.0.0.1:${ports.stripeMock}`, async () => {
        components.stripeMock = await startStripeMock({ stateDir, port: ports.stripeMock, portEnvVar: portEnv('stripeMock') });
        return components.stripeMock.url;
      })
    : Promise.resolve(undefined);
  tasks.push(stripeMockReady);
  if (emulatorWanted) {
    tasks.push(
      // The emulator validates each request against stripe-mock, so it needs its URL first.
      stripeMockReady.then((stripeMockUrl) =>
        timed('Stripe emulator', `127.0.0.1:${ports.stripeEmulator}`, async () => {
          components.stripeEmulator = await startStripeEmulator({
            stateDir,
            port: ports.stripeEmulator,
            webhookSecret,
            webhookUrl: options.stripeWebhookUrl,
            stripeMockUrl,
            portEnvVar: portEnv('stripeEmulator'),
          });
        }),
      ),
    );
  }
  if (runs('mail', external.mail)) {
    tasks.push(
      timed('mail catcher (MailDev)', `127.0.0.1:${ports.smtp}`, async () => {
        components.mail = await startMailCatcher({
          stateDir,
          smtpPort: ports.smtp,
          webPort: ports.mailInbox,
          portEnvVars: { smtpPort: portEnv('smtp'), webPort: portEnv('mailInbox') },
        });
      }),
    );
  }

  const stopStarted = async () => {
    await stopAll(Object.values(components));
  };
  const results = await Promise.allSettled(tasks);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  if (failures.length) {
    await stopStarted().catch(() => undefined);
    const first = failures[0];
    if (failures.length > 1) {
      for (const f of failures.slice(1)) progress.line(`  ✗ also: ${f instanceof Error ? f.message : String(f)}`);
    }
    throw first instanceof Error ? first : new StackError(String(first));
  }

  const stackEnv: StackEnv = {
    DATABASE_URL: components.postgres?.url ?? external.postgres ?? defaults.DATABASE_URL,
    TEMPORAL_ADDRESS: components.temporal?.address ?? external.temporal ?? defaults.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: components.temporal?.namespace ?? (env.TEMPORAL_NAMESPACE || defaults.TEMPORAL_NAMESPACE),
    KAFKA_BROKERS: components.kafka?.brokers.join(',') ?? external.kafka ?? defaults.KAFKA_BROKERS.join(','),
    STRIPE_SECRET_KEY: external.stripe ?? EMULATOR_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET: webhookSecret,
    SMTP_URL: components.mail?.smtpUrl ?? external.mail ?? defaults.SMTP_URL,
    STACK_STATE_DIR: stateDir,
  };
  const optional: Partial<StackEnv> = {
    TEMPORAL_UI_URL: components.temporal?.uiUrl ?? env.TEMPORAL_UI_URL,
    STRIPE_API_URL: components.stripeEmulator?.url ?? env.STRIPE_API_URL,
    STRIPE_MOCK_URL: components.stripeMock?.url ?? env.STRIPE_MOCK_URL,
    MAIL_INBOX_URL: components.mail?.inboxUrl ?? env.MAIL_INBOX_URL,
  };
  for (const [k, v] of Object.entries(optional)) if (v) (stackEnv as unknown as Record<string, string>)[k] = v;

  progress.line(`Local stack ready in ${formatDuration(Date.now() - started)}`);

  const keep = options.keepStateDir ?? (options.mode === 'dev' || process.env.STACK_KEEP_STATE === '1' || Boolean(options.stateDir));
  let stopping: Promise<void> | undefined;
  return {
    mode: options.mode,
    env: stackEnv,
    stateDir,
    ports,
    components,
    stop: () =>
      (stopping ??= (async () => {
        await stopStarted();
        if (!keep) await fs.rm(stateDir, { recursive: true, force: true });
      })()),
  };
}

const TEST_STATE_PREFIX = 'checkout-saga-test-';

/**
 * A fresh temp dir for a test stack, marked with its owner. A clean stop removes it; one whose
 * owner died (jest killed, machine rebooted mid-run) is removed by the next test stack instead, so
 * data dirs do not pile up in /tmp. Until then it is there to read the logs of the run that died.
 */
async function newTestStateDir(): Promise<string> {
  await sweepAbandonedTestStateDirs();
  const dir = mkdtempSync(path.join(os.tmpdir(), TEST_STATE_PREFIX));
  await fs.writeFile(path.join(dir, 'owner.json'), JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) }));
  return dir;
}

async function sweepAbandonedTestStateDirs(): Promise<void> {
  const entries = await fs.readdir(os.tmpdir()).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((e) => e.startsWith(TEST_STATE_PREFIX))
      .map(async (entry) => {
        const dir = path.join(os.tmpdir(), entry);
        try {
          const owner = JSON.parse(await fs.readFile(path.join(dir, 'owner.json'), 'utf8')) as { pid: number; startTime?: string };
          if (owner.startTime && processStartTime(owner.pid) === owner.startTime) return;
          // The owner is gone; its reapers stop the components within seconds. Only remove a dir
          // whose components are all gone too.
          const pids = await fs.readdir(path.join(dir, 'pids')).catch(() => [] as string[]);
          for (const file of pids) {
            const record = JSON.parse(await fs.readFile(path.join(dir, 'pids', file), 'utf8')) as { pid: number; startTime: string };
            if (processStartTime(record.pid) === record.startTime) return;
          }
          await fs.rm(dir, { recursive: true, force: true });
        } catch {
          // Not ours to judge (no owner file, unreadable, removed meanwhile): leave it.
        }
      }),
  );
}

async function resolvePorts(mode: StackMode, env: NodeJS.ProcessEnv, overrides: Partial<StackPorts> = {}): Promise<StackPorts> {
  const entries = await Promise.all(
    (Object.keys(DEV_PORTS) as Array<keyof StackPorts>).map(async (key): Promise<[keyof StackPorts, number]> => {
      const override = overrides[key];
      if (override !== undefined) return [key, override];
      if (mode === 'test') return [key, await pickFreePort()];
      const { env: name, port } = DEV_PORTS[key];
      const raw = env[name];
      if (raw === undefined || raw === '') return [key, port];
      const parsed = Number(raw);
      if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535) throw new StackError(`${name}=${raw} is not a port number (1-65535)`);
      return [key, parsed];
    }),
  );
  return Object.fromEntries(entries) as unknown as StackPorts;
}

/** `export NAME='value'` lines for a shell. */
export function shellExports(env: StackEnv): string {
  return Object.entries(env)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `export ${k}='${String(v).replace(/'/g, `'\\''`)}'`)
    .join('\n');
}
