import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, openSync, closeSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { formatDuration, progress } from './progress';

/**
 * Process plumbing shared by every component of the local stack.
 *
 * The promise that matters most: nothing is left running. Every component runs in its own process
 * group (so stopping it also stops what it forked, e.g. PostgreSQL's backends), writes a pid file
 * into the state dir (so the next start can stop one left behind), and is watched by a tiny
 * detached reaper that stops the group when the Node process that started it dies, however it dies
 * (Ctrl-C, a failed jest run, SIGKILL, an out-of-memory kill).
 */

/** An error whose message is the one line a developer needs: what failed and what to do about it. */
export class StackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackError';
  }
}

export class PortInUseError extends StackError {
  constructor(
    readonly port: number,
    readonly component: string,
    readonly envVar?: string,
  ) {
    super(`port ${port} is in use (${component}): stop what uses it${envVar ? ` or set ${envVar}` : ''}`);
    this.name = 'PortInUseError';
  }
}

export class MissingToolError extends StackError {
  constructor(tool: string, why: string, install: string) {
    super(`\`${tool}\` not found on PATH (needed ${why}): ${install}`);
    this.name = 'MissingToolError';
  }
}

/** Full path of `command` on PATH, or undefined. */
export function findOnPath(command: string): string | undefined {
  if (command.includes('/')) return isExecutableFile(command) ? command : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function requireTool(command: string, why: string, install: string): string {
  const found = findOnPath(command);
  if (!found) throw new MissingToolError(command, why, install);
  return found;
}

/**
 * Fails with the one-line PortInUseError when something already listens on 127.0.0.1:port (or on
 * every interface, which Linux reports the same way), instead of a component dying later with the
 * reason buried in its log.
 */
export async function assertPortFree(port: number, component: string, envVar?: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' || err.code === 'EACCES' ? new PortInUseError(port, component, envVar) : err);
    });
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve()));
  });
}

// Ports handed out by this process stay reserved here, so two components (or two stacks in one
// jest process) asking at the same moment never get the same one before either has bound it.
const handedOutPorts = new Set<number>();

/** A port nothing listens on right now, chosen by the kernel; for test stacks that must never clash. */
export async function pickFreePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
        const address = server.address();
        server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
      });
    });
    if (!handedOutPorts.has(port)) {
      handedOutPorts.add(port);
      return port;
    }
  }
  throw new StackError('could not find a free port on 127.0.0.1');
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

export interface ManagedProcess {
  /** File-name-safe id: `<stateDir>/logs/<name>.log`, `<stateDir>/pids/<name>.pid`. */
  readonly name: string;
  /** What the developer calls it: "Kafka", "PostgreSQL". */
  readonly label: string;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<ExitInfo>;
  hasExited(): boolean;
  /** Stop signal to the whole process group, SIGKILL after the grace period; resolves once the group is gone. */
  stop(): Promise<void>;
}

export interface StartProcessOptions {
  name: string;
  label: string;
  command: string;
  args: string[];
  stateDir: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this user (PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
  /** SIGTERM unless the program shuts down faster and as cleanly on another (PostgreSQL: SIGINT). */
  stopSignal?: NodeJS.Signals;
  graceMs?: number;
  /** 'log' (default): stdout and stderr to the log file; 'inherit': to ours, e.g. the service under `npm start`. */
  output?: 'log' | 'inherit';
}

const running = new Set<ManagedProcess>();

/** Components started by this process and not yet stopped (tests use it to prove a clean stop). */
export function runningProcesses(): ManagedProcess[] {
  return [...running];
}

export function logDir(stateDir: string): string {
  return path.join(stateDir, 'logs');
}

function pidFile(stateDir: string, name: string): string {
  return path.join(stateDir, 'pids', `${name}.pid`);
}

interface PidRecord {
  pid: number;
  startTime: string;
  command: string;
  stopSignal: NodeJS.Signals;
}

export async function startProcess(opts: StartProcessOptions): Promise<ManagedProcess> {
  const stopSignal = opts.stopSignal ?? 'SIGTERM';
  const graceMs = opts.graceMs ?? 10_000;
  await stopStaleProcess(opts.stateDir, opts.name, opts.label);
  await fs.mkdir(logDir(opts.stateDir), { recursive: true });
  await fs.mkdir(path.dirname(pidFile(opts.stateDir, opts.name)), { recursive: true });
  const logFile = path.join(logDir(opts.stateDir), `${opts.name}.log`);
  const logFd = opts.output === 'inherit' ? undefined : openSync(logFile, 'a');
  let child;
  try {
    child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: logFd === undefined ? ['ignore', 'inherit', 'inherit'] : ['ignore', logFd, logFd],
      // Own process group: one signal reaches everything the component forks, and Ctrl-C in the
      // terminal reaches only us, so we decide the shutdown order.
      detached: true,
      uid: opts.uid,
      gid: opts.gid,
    });
  } finally {
    if (logFd !== undefined) closeSync(logFd);
  }

  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (error) => {
      exitInfo ??= { code: null, signal: null, error };
      resolve(exitInfo);
    });
    child.once('exit', (code, signal) => {
      exitInfo ??= { code, signal };
      resolve(exitInfo);
    });
  });
  const pid = child.pid;
  if (pid === undefined) {
    const info = await exited;
    throw new StackError(`${opts.label} could not be started (${opts.command}): ${info.error?.message ?? 'unknown error'}`);
  }
  child.unref();

  const record: PidRecord = { pid, startTime: processStartTime(pid) ?? '', command: opts.command, stopSignal };
  await fs.writeFile(pidFile(opts.stateDir, opts.name), JSON.stringify(record));
  const reaper = spawnReaper(pid, stopSignal, graceMs);

  let stopping: Promise<void> | undefined;
  const managed: ManagedProcess = {
    name: opts.name,
    label: opts.label,
    pid,
    logFile,
    exited,
    hasExited: () => exitInfo !== undefined,
    stop: () =>
      (stopping ??= (async () => {
        if (!exitInfo) signalGroup(pid, stopSignal);
        if (!(await settlesWithin(exited, graceMs))) signalGroup(pid, 'SIGKILL');
        await exited;
        // The leader is gone; what it forked may still be finishing (or ignoring signals).
        if (!(await waitForGroupGone(pid, 2_000))) {
          signalGroup(pid, 'SIGKILL');
          await waitForGroupGone(pid, 5_000);
        }
        await fs.rm(pidFile(opts.stateDir, opts.name), { force: true });
        if (reaper) signalGroup(reaper, 'SIGKILL');
        running.delete(managed);
      })()),
  };
  running.add(managed);
  void exited.then(() => {
    if (!stopping) running.delete(managed);
  });
  return managed;
}

/**
 * The reaper is a few lines of sh, detached in its own session so Ctrl-C does not reach it. It polls
 * the parent; when the parent is gone and the component's group still exists, it sends the stop
 * signal, then SIGKILL after the grace period. It exits by itself once the group is gone. The group
 * is re-checked every second, so its id cannot have been recycled by the kernel in between (Linux
 * does not reuse an id while a group of that id exists).
 */
const REAPER_SCRIPT = [
  'parent=$1; group=$2; sig=$3; grace=$4',
  'while kill -0 "$parent" 2>/dev/null; do kill -0 "-$group" 2>/dev/null || exit 0; sleep 1; done',
  'kill "-$sig" "-$group" 2>/dev/null || exit 0',
  'i=0; while [ "$i" -lt "$grace" ] && kill -0 "-$group" 2>/dev/null; do sleep 1; i=$((i+1)); done',
  'kill -KILL "-$group" 2>/dev/null; exit 0',
].join('\n');

function spawnReaper(group: number, stopSignal: NodeJS.Signals, graceMs: number): number | undefined {
  const reaper = spawn(
    '/bin/sh',
    ['-c', REAPER_SCRIPT, 'checkout-saga-reaper', String(process.pid), String(group), stopSignal.replace(/^SIG/, ''), String(Math.ceil(graceMs / 1000))],
    { detached: true, stdio: 'ignore' },
  );
  reaper.unref();
  return reaper.pid;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitForGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupExists(pgid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Field 22 of /proc/<pid>/stat: with the pid it identifies one process, even after pid reuse. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Stops a component that an earlier run left behind in this state dir (its parent and its reaper
 * were both killed, e.g. by `kill -9` of the whole session), so it does not hold the port or the
 * data directory. Only the exact process recorded is touched: pid and start time must both match.
 */
export async function stopStaleProcess(stateDir: string, name: string, label: string): Promise<void> {
  const file = pidFile(stateDir, name);
  let record: PidRecord;
  try {
    record = JSON.parse(await fs.readFile(file, 'utf8')) as PidRecord;
  } catch {
    return;
  }
  const startTime = processStartTime(record.pid);
  if (startTime !== undefined && startTime === record.startTime) {
    progress.line(`  stopping a ${label} left running by an earlier start (pid ${record.pid})`);
    signalGroup(record.pid, record.stopSignal);
    if (!(await waitForGroupGone(record.pid, 15_000))) {
      signalGroup(record.pid, 'SIGKILL');
      await waitForGroupGone(record.pid, 5_000);
    }
  }
  await fs.rm(file, { force: true });
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Stop waiting, with the reason from its log, as soon as this process exits. */
  process?: ManagedProcess;
}

/**
 * Polls `check` until it returns true. A check that throws counts as "not yet"; its last error is
 * in the timeout message. Prints a progress line every 10 s so a slow start is visibly alive.
 */
export async function waitUntilHealthy(label: string, check: () => Promise<boolean>, opts: WaitOptions): Promise<void> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  let lastError: unknown;
  let nextNotice = started + 10_000;
  for (;;) {
    if (opts.process?.hasExited()) {
      const info = await opts.process.exited;
      const how = info.error ? info.error.message : info.signal ? `signal ${info.signal}` : `code ${String(info.code)}`;
      throw new StackError(`${label} exited during start (${how}): ${await lastLogLine(opts.process.logFile)} [log: ${opts.process.logFile}]`);
    }
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const now = Date.now();
    if (now > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      const log = opts.process ? ` [log: ${opts.process.logFile}]` : '';
      throw new StackError(`${label} was not healthy after ${formatDuration(opts.timeoutMs)}${why}${log}`);
    }
    if (now >= nextNotice) {
      progress.line(`  … waiting for ${label} (${formatDuration(now - started)})`);
      nextNotice += 10_000;
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

/** The last line of a log that looks like a reason, for one-line errors. */
export async function lastLogLine(logFile: string): Promise<string> {
  const text = await fs.readFile(logFile, 'utf8').catch(() => '');
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const reason = [...lines].reverse().find((l) => /error|fatal|exception|fail|refus|denied|in use/i.test(l));
  return (reason ?? lines.at(-1) ?? '(empty log)').slice(0, 300);
}

export interface RunOptions {
  label: string;
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  /** Print "… label (elapsed)" every so often: for installs that take minutes. */
  progressEveryMs?: number;
}

/**
 * Runs a one-shot command (an install, a format) to completion with its output in `logFile`.
 * It runs in its own process group under a reaper like any component, so aborting the start
 * (Ctrl-C during a four-minute `go install`) does not leave the build running.
 */
export async function runCommand(command: string, args: string[], opts: RunOptions): Promise<void> {
  await fs.mkdir(path.dirname(opts.logFile), { recursive: true });
  const logFd = openSync(opts.logFile, 'a');
  let child;
  try {
    child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', logFd, logFd],
      detached: true,
      uid: opts.uid,
      gid: opts.gid,
    });
  } finally {
    closeSync(logFd);
  }
  let finished = false;
  const done = new Promise<ExitInfo>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  }).finally(() => {
    finished = true;
  });
  const reaper = child.pid ? spawnReaper(child.pid, 'SIGTERM', 5_000) : undefined;
  const oneShot: ManagedProcess | undefined = child.pid
    ? {
        name: path.basename(command),
        label: opts.label,
        pid: child.pid,
        logFile: opts.logFile,
        exited: done,
        hasExited: () => finished,
        stop: async () => {
          signalGroup(child.pid as number, 'SIGKILL');
          await done;
        },
      }
    : undefined;
  if (oneShot) running.add(oneShot);
  try {
    const wait = () => done;
    const info = opts.progressEveryMs ? await progress.whileRunning(opts.label, wait, opts.progressEveryMs) : await wait();
    if (info.error || info.code !== 0) {
      const how = info.error ? info.error.message : info.signal ? `signal ${info.signal}` : `exit code ${String(info.code)}`;
      throw new StackError(`${opts.label} failed (${how}): ${await lastLogLine(opts.logFile)} [log: ${opts.logFile}]`);
    }
  } finally {
    if (oneShot) running.delete(oneShot);
    if (reaper) signalGroup(reaper, 'SIGKILL');
  }
}

/**
 * Last resort for an exiting parent (process.exit, an uncaught exception): signal every component
 * synchronously, since 'exit' handlers cannot await. The reapers finish the job if one lingers.
 */
process.once('exit', () => {
  for (const p of running) if (!p.hasExited()) signalGroup(p.pid, 'SIGTERM');
});

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `promise` settles within `ms`; the timer is cleared either way, so it never holds the process open. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops processes in parallel and reports every failure, not only the first. */
export async function stopAll(processes: Array<{ stop(): Promise<void> } | undefined>): Promise<void> {
  const results = await Promise.allSettled(processes.map((p) => p?.stop()));
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) throw new AggregateError(failed.map((f) => f.reason as unknown), 'some stack components did not stop cleanly');
}
