import path from 'node:path';
import { assertPortFree, startProcess, stopStaleProcess, waitUntilHealthy, type ManagedProcess } from './processes';

/**
 * The service's own processes (worker and API) as `npm start` runs them: each `node --import tsx`
 * on its entry file, in its own process group with a pid file and a reaper like any component of
 * the stack. Shared by `npm start` and `npm run bench`, so the bench measures exactly what a
 * developer starts.
 */

const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface ServiceProcessOptions {
  /** File-name-safe id (log and pid file names). */
  name: string;
  label: string;
  /** Entry file, relative to the repository root, e.g. `src/workers/main.ts`. */
  entry: string;
  env: NodeJS.ProcessEnv;
  stateDir: string;
  /** 'inherit' under `npm start` (the developer watches the logs); 'log' writes `<stateDir>/logs/<name>.log`. */
  output: 'inherit' | 'log';
  /** The worker finishes its in-flight activities and the API its requests before exiting. */
  graceMs?: number;
}

export function startServiceProcess(opts: ServiceProcessOptions): Promise<ManagedProcess> {
  return startProcess({
    name: opts.name,
    label: opts.label,
    command: process.execPath,
    args: ['--import', 'tsx', path.join(REPO_ROOT, opts.entry)],
    cwd: REPO_ROOT,
    env: opts.env,
    stateDir: opts.stateDir,
    output: opts.output,
    graceMs: opts.graceMs ?? 20_000,
  });
}

export interface WorkerAndApiOptions {
  /** The children's whole environment: the stack's variables, PORT and APP_URL included. */
  env: NodeJS.ProcessEnv;
  stateDir: string;
  /** The API's port, checked free first. */
  port: number;
  output: 'inherit' | 'log';
}

/**
 * Spawns the worker (`src/workers/main.ts`) and the API (`src/api/main.ts`) in parallel and returns
 * at once, so the caller can watch their exits before waiting for health with `waitForApi`.
 */
export async function spawnWorkerAndApi(opts: WorkerAndApiOptions): Promise<{ worker: ManagedProcess; api: ManagedProcess }> {
  await stopStaleProcess(opts.stateDir, 'api', 'API');
  await stopStaleProcess(opts.stateDir, 'worker', 'worker');
  // Else a stray server on the port would answer /healthz and the start would look fine.
  await assertPortFree(opts.port, 'API', 'PORT');
  const spawn = (name: string, label: string, entry: string) => startServiceProcess({ name, label, entry, env: opts.env, stateDir: opts.stateDir, output: opts.output });
  const [worker, api] = await Promise.all([spawn('worker', 'worker', 'src/workers/main.ts'), spawn('api', 'API', 'src/api/main.ts')]);
  return { worker, api };
}

/** Waits until the API answers `/healthz`, or fails with the reason from its log if it exits first. */
export async function waitForApi(port: number, api: ManagedProcess, timeoutMs = 60_000): Promise<void> {
  await waitUntilHealthy('API', () => healthz(`http://127.0.0.1:${port}/healthz`), { timeoutMs, process: api });
}

async function healthz(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.status === 200;
}
