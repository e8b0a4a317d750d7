import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

export interface ServiceProcess {
  child: ChildProcess;
  /** Every line the process wrote, stdout and stderr, in arrival order. */
  readonly lines: string[];
  /** The lines that are pino JSON. */
  json(): Record<string, unknown>[];
  /** Resolves with the first JSON line `match` accepts, as soon as it is written. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM and wait for the exit (SIGKILL if it does not come); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, as a crash or an OOM kill would end it, and wait for the exit. */
  kill(): Promise<void>;
}

/**
 * One of the service's entry points (`src/api/main.ts`, `src/workers/main.ts`, ...) in its own
 * process, as `npm start` and the Dockerfile run it, with every line it writes kept for the test.
 */
export function startServiceProcess(entry: string, env: Record<string, string | undefined>): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const complete = buffered.split('\n');
      buffered = complete.pop()!;
      lines.push(...complete.filter((l) => l.length > 0));
      for (const wake of waiters) wake();
    });
    stream.on('end', () => {
      if (buffered) lines.push(buffered);
    });
  }
  const exited = once(child, 'exit');
  const running = () => child.exitCode === null && child.signalCode === null;
  const json = () =>
    lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });

  return {
    child,
    lines,
    json,
    waitForLog(match, what, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = json().find(match);
          if (found) return finish(() => resolve(found));
          if (!running()) return finish(() => reject(new Error(`${entry} exited before ${what}:\n${lines.slice(-20).join('\n')}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`no ${what} from ${entry} within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`))), timeoutMs);
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', check);
          settle();
        };
        waiters.add(check);
        child.on('exit', check);
        check();
      });
    },
    async stop() {
      if (running()) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(killer);
      }
      return child.exitCode;
    },
    async kill() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
