import { progress } from './progress';
import { runningProcesses } from './processes';

/**
 * Ctrl-C handling for the scripts that own a stack (`npm start`, `npm run stack`).
 *
 * Ctrl-C reaches npm, the bootstrap and this process together, and the bootstrap forwards it
 * again: signals arriving within a moment of the first are the same request. Only a signal sent
 * well after the first (the developer pressing Ctrl-C again because a stop hangs) forces it:
 * SIGKILL to every component's process group, then exit.
 */
export function stopOnSignals(stop: () => Promise<void>): void {
  let firstAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15);
    if (firstAt === undefined) {
      firstAt = Date.now();
      progress.line(`\n${signal}: stopping (press Ctrl-C again to force)`);
      stop().then(
        () => process.exit(code),
        (err: unknown) => {
          progress.line(`stop failed: ${err instanceof Error ? err.message : String(err)}`);
          process.exit(1);
        },
      );
      return;
    }
    if (Date.now() - firstAt < 1_500) return;
    progress.line('forcing: killing every component');
    for (const p of runningProcesses()) {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    process.exit(code);
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
}

/**
 * Keeps this process (and so the stack it owns) alive until a signal ends it: the components are
 * unref'd children, so nothing else holds the event loop open.
 */
export function runUntilSignalled(): void {
  setInterval(() => {}, 1 << 30);
}
