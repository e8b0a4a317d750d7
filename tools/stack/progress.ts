/**
 * What the stack prints while it starts. It goes to stderr so that `npm run stack` can keep stdout
 * for the `export VAR=...` lines, and it is plain lines (no cursor tricks) because components start
 * in parallel and the output often lands in a CI log rather than a terminal.
 */
export interface Progress {
  line(text: string): void;
  /** Runs `fn`, printing `label` with the elapsed time every `everyMs` until it settles. */
  whileRunning<T>(label: string, fn: () => Promise<T>, everyMs?: number): Promise<T>;
}

export function createProgress(write: (text: string) => void = (t) => process.stderr.write(t)): Progress {
  const line = (text: string) => {
    if (process.env.STACK_QUIET !== '1') write(`${text}\n`);
  };
  return {
    line,
    async whileRunning(label, fn, everyMs = 15_000) {
      const started = Date.now();
      const timer = setInterval(() => line(`  … ${label} (${formatDuration(Date.now() - started)})`), everyMs);
      try {
        return await fn();
      } finally {
        clearInterval(timer);
      }
    },
  };
}

export const progress = createProgress();

export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}
