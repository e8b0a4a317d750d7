import path from 'node:path';
import { Connection } from '@temporalio/client';
import { ensureGoTool } from './go-install';
import { assertPortFree, startProcess, stopStaleProcess, waitUntilHealthy, type ManagedProcess } from './processes';

/**
 * The Temporal CLI's dev server: the real Temporal server (frontend, history, matching, worker
 * services in one process, SQLite persistence) with the Web UI built in.
 */

/** v1.5.1 is the newest tag whose go.mod has no `replace` line; later tags cannot be `go install`ed. */
export const TEMPORAL_CLI_VERSION = '1.5.1';

/** Registered at start so workflows can upsert them and ops can filter on them in the Web UI. */
export const SEARCH_ATTRIBUTES = {
  CheckoutStatus: 'Keyword',
  CheckoutStep: 'Keyword',
  CustomerEmail: 'Keyword',
  OrderTotal: 'Int',
} as const;

export function ensureTemporalCli(): Promise<string> {
  return ensureGoTool({
    name: 'temporal',
    binary: 'temporal',
    version: TEMPORAL_CLI_VERSION,
    packagePath: 'github.com/temporalio/cli/cmd/temporal',
    expectedDuration: 'about 4 minutes on 2 cores',
  });
}

export interface TemporalOptions {
  stateDir: string;
  /** Frontend gRPC port: what TEMPORAL_ADDRESS points at. */
  port: number;
  uiPort: number;
  /**
   * The dev server picks random ports for its HTTP API and metrics unless told; pinning them keeps
   * every port of a stack chosen by us, so "port in use" is caught before start with a clear line.
   */
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
  cliPath: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startTemporal(opts: TemporalOptions): Promise<TemporalHandle> {
  const cliPath = await ensureTemporalCli();
  const namespace = opts.namespace ?? 'default';
  await stopStaleProcess(opts.stateDir, 'temporal', 'Temporal');
  await assertPortFree(opts.port, 'Temporal', opts.portEnvVars?.port);
  await assertPortFree(opts.uiPort, 'Temporal Web UI', opts.portEnvVars?.uiPort);
  await assertPortFree(opts.httpPort, 'Temporal HTTP API', opts.portEnvVars?.httpPort);
  await assertPortFree(opts.metricsPort, 'Temporal metrics', opts.portEnvVars?.metricsPort);

  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(opts.port),
    '--ui-port', String(opts.uiPort),
    '--http-port', String(opts.httpPort),
    '--metrics-port', String(opts.metricsPort),
    '--log-level', 'warn',
    '--log-format', 'json',
    ...(namespace === 'default' ? [] : ['--namespace', namespace]),
    ...(opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : []),
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    // WAL + synchronous=normal triples throughput against the default pragmas (STACK.md), and only
    // a power cut, not a crash of the process, can lose the last transactions.
    ...(opts.dbFile ? ['--db-filename', path.resolve(opts.dbFile), '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'] : []),
  ];
  const proc = await startProcess({
    name: 'temporal',
    label: 'Temporal',
    command: cliPath,
    args,
    stateDir: opts.stateDir,
    // The CLI would otherwise read ~/.config/temporalio and TEMPORAL_* variables meant for clients.
    env: withoutTemporalClientEnv(process.env),
    graceMs: 10_000,
  });

  const address = `127.0.0.1:${opts.port}`;
  const uiUrl = `http://127.0.0.1:${opts.uiPort}`;
  try {
    await waitUntilHealthy('Temporal', () => temporalAnswers(address, namespace), { timeoutMs: 60_000, process: proc });
    await waitUntilHealthy('Temporal Web UI', () => httpOk(uiUrl), { timeoutMs: 30_000, process: proc });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { address, namespace, uiUrl, cliPath, process: proc, stop: () => proc.stop() };
}

/** A real gRPC round trip: the frontend answers and the namespace is registered. */
export async function temporalAnswers(address: string, namespace: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    await connection.workflowService.getSystemInfo({});
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } finally {
    await connection.close();
  }
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.status === 200;
}

function withoutTemporalClientEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('TEMPORAL_')));
}
