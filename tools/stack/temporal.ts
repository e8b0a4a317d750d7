import fs from 'node:fs/promises';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { stringify } from 'yaml';
import { ensureGoTool } from './go-install';
import { assertPortFree, pickFreePort, startProcess, stopAll, stopStaleProcess, waitUntilHealthy, type ManagedProcess } from './processes';

/**
 * Temporal for the local stack: the real Temporal server (frontend, history, matching and worker
 * services in one process, SQLite persistence) and its Web UI, configured as `temporal server
 * start-dev` configures them.
 *
 * Not the Temporal CLI's dev server: the newest CLI the Go module proxy serves (1.9.1) cannot be
 * built from it (its go.mod replaces github.com/temporalio/cli/cliext with a directory the module
 * zip leaves out, and the proxy serves no cliext module), and the newest that can (1.5.1) embeds
 * server 1.29.1, which CVE-2025-14986 affects. The server and the UI server are modules of their
 * own on the proxy, each with a `cmd/server`, so each is `go install`ed once into the cache.
 */

/** The newest server the machine's Go (1.26.8) builds; 1.32.2 asks for Go 1.26.10. Past CVE-2025-14986 (fixed in 1.29.2). */
export const TEMPORAL_SERVER_VERSION = '1.32.1';
/** The UI server the Temporal CLI 1.9.1 pairs with server 1.32; later ones ask for Go 1.26.10. */
export const TEMPORAL_UI_VERSION = '2.54.1';

/** Registered at start so workflows can upsert them and ops can filter on them in the Web UI. */
export const SEARCH_ATTRIBUTES = {
  CheckoutStatus: 'Keyword',
  CheckoutStep: 'Keyword',
  CustomerEmail: 'Keyword',
  OrderTotal: 'Int',
} as const;

/** temporal.api.enums.v1.IndexedValueType */
const INDEXED_VALUE_TYPES: Record<(typeof SEARCH_ATTRIBUTES)[keyof typeof SEARCH_ATTRIBUTES], number> = { Keyword: 2, Int: 3 };

/**
 * What `temporal server start-dev` sets on top of the server's defaults (CLI 1.9.1,
 * internal/temporalcli/commands.server.go and internal/devserver/server.go), for the same reasons:
 * a search attribute is usable the moment it is added, at the persistence rates that needs.
 * Update-with-Start (ExecuteMultiOperation) needs no setting: server 1.32 has no switch for it any
 * more (1.29 had `frontend.enableExecuteMultiOperation`, on by default).
 */
const DYNAMIC_CONFIG = {
  'system.forceSearchAttributesCacheRefreshOnRead': true,
  'frontend.persistenceMaxQPS': 10_000,
  'history.persistenceMaxQPS': 45_000,
  'history.hostLevelCacheMaxSize': 8096,
  'frontend.namespaceRPS.visibility': 100,
  // Not start-dev's, ours: a workflow task that schedules an activity hands it straight back to the
  // worker that completed it, when that worker has a free slot, instead of through the task queue's
  // matching: a round trip less per step (the bench's half-saturation phase measures it).
  'system.enableActivityEagerExecution': true,
};

export function ensureTemporalServer(): Promise<string> {
  return ensureGoTool({
    name: 'temporal-server',
    binary: 'server',
    version: TEMPORAL_SERVER_VERSION,
    packagePath: 'go.temporal.io/server/cmd/server',
    expectedDuration: '5 to 10 minutes on 2 cores',
    minGoVersion: '1.26.8',
  });
}

export function ensureTemporalUi(): Promise<string> {
  return ensureGoTool({
    name: 'temporal-ui-server',
    binary: 'server',
    version: TEMPORAL_UI_VERSION,
    packagePath: 'github.com/temporalio/ui-server/v2/cmd/server',
    expectedDuration: 'about a minute on 2 cores',
    minGoVersion: '1.26.5',
  });
}

export interface TemporalOptions {
  stateDir: string;
  /** Frontend gRPC port: what TEMPORAL_ADDRESS points at. */
  port: number;
  uiPort: number;
  /** The frontend's HTTP API. Pinned like every port of a stack, so "port in use" is caught before start. */
  httpPort: number;
  metricsPort: number;
  /** SQLite file: workflows survive a restart. Unset: in memory (tests; fastest). */
  dbFile?: string;
  namespace?: string;
  /** The codec server the Web UI asks to decrypt payloads (`.../codec`); unset: the UI shows them sealed. */
  uiCodecEndpoint?: string;
  /** Env var names used in "port in use" errors. */
  portEnvVars?: { port?: string; uiPort?: string; httpPort?: string; metricsPort?: string };
}

export interface TemporalHandle {
  address: string;
  namespace: string;
  uiUrl: string;
  /** The server: what the bench samples and the fault soak kills. */
  process: ManagedProcess;
  ui: ManagedProcess;
  stop(): Promise<void>;
}

export async function startTemporal(opts: TemporalOptions): Promise<TemporalHandle> {
  const serverPath = await ensureTemporalServer();
  const uiPath = await ensureTemporalUi();
  const namespace = opts.namespace ?? 'default';
  // A UI left running (its server was killed, or a whole earlier run was) would hold the UI port.
  await stopStaleProcess(opts.stateDir, 'temporal-ui', 'Temporal Web UI');
  await stopStaleProcess(opts.stateDir, 'temporal', 'Temporal');
  await assertPortFree(opts.port, 'Temporal', opts.portEnvVars?.port);
  await assertPortFree(opts.uiPort, 'Temporal Web UI', opts.portEnvVars?.uiPort);
  await assertPortFree(opts.httpPort, 'Temporal HTTP API', opts.portEnvVars?.httpPort);
  await assertPortFree(opts.metricsPort, 'Temporal metrics', opts.portEnvVars?.metricsPort);

  const configDir = path.join(opts.stateDir, 'temporal');
  await fs.mkdir(configDir, { recursive: true });
  const configFile = path.join(configDir, 'server.yaml');
  const dynamicConfigFile = path.join(configDir, 'dynamic-config.yaml');
  await fs.writeFile(dynamicConfigFile, stringify(Object.fromEntries(Object.entries(DYNAMIC_CONFIG).map(([key, value]) => [key, [{ value }]]))));
  await fs.writeFile(configFile, stringify(serverConfig(opts, await internalPorts(configDir), dynamicConfigFile)));
  const uiConfigDir = path.join(configDir, 'ui');
  await fs.mkdir(uiConfigDir, { recursive: true });
  await fs.writeFile(
    path.join(uiConfigDir, 'development.yaml'),
    stringify({
      temporalGrpcAddress: `127.0.0.1:${opts.port}`,
      host: '127.0.0.1',
      port: opts.uiPort,
      enableUi: true,
      defaultNamespace: namespace,
      // Plain HTTP on loopback: a Secure cookie would never come back.
      cors: { cookieInsecure: true },
      hideLogs: true,
      // Under npm start: the codec server opens the sealed payloads for the browser (the codec
      // server answers CORS for this origin only).
      ...(opts.uiCodecEndpoint ? { codec: { endpoint: opts.uiCodecEndpoint } } : {}),
    }),
  );

  // The server and the UI server would otherwise read TEMPORAL_* variables meant for clients
  // (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE) or for themselves (TEMPORAL_ROOT, TEMPORAL_SERVICES).
  const env = withoutTemporalEnv(process.env);
  const server = await startProcess({
    name: 'temporal',
    label: 'Temporal',
    command: serverPath,
    // No authorizer, as in the dev server: the stack binds loopback only.
    args: ['--config-file', configFile, '--allow-no-auth', 'start'],
    stateDir: opts.stateDir,
    env,
    graceMs: 10_000,
  });
  const address = `127.0.0.1:${opts.port}`;
  const uiUrl = `http://127.0.0.1:${opts.uiPort}`;
  let ui: ManagedProcess;
  try {
    ui = await startProcess({
      name: 'temporal-ui',
      label: 'Temporal Web UI',
      command: uiPath,
      args: ['--root', configDir, '--config', 'ui', '--env', 'development', 'start'],
      stateDir: opts.stateDir,
      env,
      graceMs: 5_000,
    });
  } catch (err) {
    await server.stop();
    throw err;
  }
  const stop = () => stopAll([ui, server]);
  try {
    await waitUntilHealthy('Temporal', () => frontendAnswers(address), { timeoutMs: 60_000, process: server });
    await registerNamespace(address, namespace);
    await waitUntilHealthy('Temporal', () => temporalAnswers(address, namespace), { timeoutMs: 30_000, process: server });
    await addSearchAttributes(address, namespace);
    await waitUntilHealthy('Temporal Web UI', () => httpOk(uiUrl), { timeoutMs: 30_000, process: ui });
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, namespace, uiUrl, process: server, ui, stop };
}

interface InternalPorts {
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

/**
 * The history, matching and worker services and the membership ring take ports of their own that
 * nothing outside the process uses. The dev server pins its services to static hosts; the server
 * binary finds them through a membership ring whose members it keeps in its SQLite file. A server
 * that restarts on other ports after a crash (the fault soak kills it) then waits for its dead
 * members to time out: a workflow took 50-60 s instead of 1.5 s. So the ports are picked free once
 * per state dir and kept; only one that has meanwhile been taken makes a new set.
 */
async function internalPorts(configDir: string): Promise<InternalPorts> {
  const file = path.join(configDir, 'internal-ports.json');
  const kept = await fs
    .readFile(file, 'utf8')
    .then((text) => JSON.parse(text) as InternalPorts)
    .catch(() => undefined);
  if (kept && (await allFree(Object.values(kept)))) return kept;
  const names: Array<keyof InternalPorts> = ['frontendMembership', 'history', 'historyMembership', 'matching', 'matchingMembership', 'worker', 'workerMembership'];
  const fresh = {} as InternalPorts;
  for (const name of names) fresh[name] = await pickFreePort();
  await fs.writeFile(file, JSON.stringify(fresh));
  return fresh;
}

async function allFree(ports: number[]): Promise<boolean> {
  for (const port of ports) {
    try {
      await assertPortFree(port, 'Temporal');
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * The server's configuration, as the dev server builds it: one SQLite database for persistence and
 * visibility, one history shard, archival off.
 */
function serverConfig(opts: TemporalOptions, ports: InternalPorts, dynamicConfigFile: string): unknown {
  const internal = (grpcPort: number, membershipPort: number) => ({ grpcPort, membershipPort, bindOnIP: '127.0.0.1' });
  const sqlite = opts.dbFile
    ? {
        databaseName: path.resolve(opts.dbFile),
        // `setup` creates the schema in a new file and leaves an existing one as it is. WAL +
        // synchronous=normal triple throughput against the default pragmas (STACK.md), and only a
        // power cut, not a crash of the process, can lose the last transactions.
        connectAttributes: { mode: 'rwc', setup: 'true', journal_mode: 'wal', synchronous: 'normal' },
      }
    : // A database name of its own: a shared-cache in-memory database is per name, per process.
      { databaseName: `checkout-saga-${process.pid}-${opts.port}`, connectAttributes: { mode: 'memory', cache: 'shared' } };
  return {
    log: { stdout: true, level: 'warn', format: 'json' },
    persistence: {
      defaultStore: 'sqlite',
      visibilityStore: 'sqlite',
      numHistoryShards: 1,
      datastores: { sqlite: { sql: { pluginName: 'sqlite', connectAddr: 'localhost', connectProtocol: 'tcp', maxConns: 1, maxIdleConns: 1, ...sqlite } } },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      metrics: { prometheus: { listenAddress: `127.0.0.1:${opts.metricsPort}`, handlerPath: '/metrics' } },
    },
    services: {
      frontend: { rpc: { ...internal(opts.port, ports.frontendMembership), httpPort: opts.httpPort } },
      history: { rpc: internal(ports.history, ports.historyMembership) },
      matching: { rpc: internal(ports.matching, ports.matchingMembership) },
      worker: { rpc: internal(ports.worker, ports.workerMembership) },
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${opts.port}`, httpAddress: `127.0.0.1:${opts.httpPort}` },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    publicClient: { hostPort: `127.0.0.1:${opts.port}` },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
}

async function withConnection<T>(address: string, fn: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

async function frontendAnswers(address: string): Promise<boolean> {
  return withConnection(address, async (connection) => {
    await connection.workflowService.getSystemInfo({});
    return true;
  });
}

/** With the dev server's retention (a day); a namespace kept in the SQLite file from an earlier start stays as it is. */
async function registerNamespace(address: string, namespace: string): Promise<void> {
  await withConnection(address, async (connection) => {
    try {
      await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  });
}

async function addSearchAttributes(address: string, namespace: string): Promise<void> {
  await withConnection(address, async (connection) => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => customAttributes?.[name] === undefined);
    if (!missing.length) return;
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_VALUE_TYPES[type]])),
    });
  });
}

function isAlreadyExists(err: unknown): boolean {
  // gRPC status ALREADY_EXISTS
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 6;
}

/** A real gRPC round trip: the frontend answers and the namespace is registered. */
export async function temporalAnswers(address: string, namespace: string): Promise<boolean> {
  return withConnection(address, async (connection) => {
    await connection.workflowService.getSystemInfo({});
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  });
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.status === 200;
}

function withoutTemporalEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('TEMPORAL_')));
}
