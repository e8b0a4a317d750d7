/**
 * The two ways the bench loads the service.
 *
 * Closed loop: N virtual clients, each starting its next checkout as soon as its last one finished.
 * At saturation it measures capacity (completed/s); its latencies are not user latencies, because
 * a slow system slows the clients down with it.
 *
 * Open loop: arrivals on a fixed schedule (rate/s), fired on time whether or not earlier requests
 * have answered, which is how real customers arrive. Its latencies are the ones users would see.
 */

export interface ClosedLoop {
  /** Changes the number of virtual clients; extra ones stop after their current iteration. */
  setConcurrency(n: number): void;
  readonly concurrency: number;
  /** Iterations finished (successfully or not) so far. */
  readonly iterations: number;
  /** Stops starting new iterations and waits for those in flight (at most `timeoutMs`). */
  stop(timeoutMs?: number): Promise<{ abandoned: number }>;
}

export function startClosedLoop(iteration: (client: number) => Promise<void>, initialConcurrency: number, onError?: (err: unknown) => void): ClosedLoop {
  let target = 0;
  let iterations = 0;
  let stopped = false;
  // Ids of the clients running now; one asked to leave may still be finishing its iteration.
  const active = new Set<number>();

  const client = async (id: number) => {
    active.add(id);
    try {
      while (!stopped && id < target) {
        await iteration(id).catch((err: unknown) => onError?.(err));
        iterations++;
      }
    } finally {
      active.delete(id);
    }
  };
  const spawnUpTo = (n: number) => {
    target = n;
    // Ids at or above `target` leave after their current iteration; a still-running one is reused.
    for (let id = 0; id < n; id++) if (!active.has(id)) void client(id);
  };
  spawnUpTo(initialConcurrency);

  return {
    setConcurrency(n: number) {
      if (stopped) return;
      spawnUpTo(n);
    },
    get concurrency() {
      return target;
    },
    get iterations() {
      return iterations;
    },
    async stop(timeoutMs = 60_000) {
      stopped = true;
      const deadline = Date.now() + timeoutMs;
      while (active.size > 0 && Date.now() < deadline) await sleep(50);
      return { abandoned: active.size };
    },
  };
}

export interface OpenLoopResult {
  /** Arrivals fired. */
  fired: number;
  /** How late each arrival fired against its schedule (ms): shows whether the generator kept up. */
  lagMs: number[];
  /** The promises of every arrival, to wait for their tails after the schedule ended. */
  pending: Array<Promise<void>>;
}

/**
 * Fires `arrival(i)` at t0 + i/rate for `durationMs`, never waiting for an earlier arrival. When
 * the event loop was busy and several arrivals are overdue, they are fired at once (catching up)
 * rather than dropped, so the offered load stays what was asked for.
 */
export async function runOpenLoop(ratePerSecond: number, durationMs: number, arrival: (i: number) => Promise<void>, signal?: AbortSignal): Promise<OpenLoopResult> {
  const total = Math.floor((ratePerSecond * durationMs) / 1000);
  const intervalMs = 1000 / ratePerSecond;
  const lagMs: number[] = [];
  const pending: Array<Promise<void>> = [];
  const t0 = performance.now();
  let next = 0;
  while (next < total && !signal?.aborted) {
    const now = performance.now();
    while (next < total && t0 + next * intervalMs <= now) {
      lagMs.push(now - (t0 + next * intervalMs));
      pending.push(arrival(next).catch(() => undefined));
      next++;
    }
    if (next < total) await sleep(Math.max(0, t0 + next * intervalMs - performance.now()));
  }
  return { fired: next, lagMs, pending };
}

/** Waits for `promises` to settle, at most `timeoutMs`; returns how many had not settled by then. */
export async function settleWithin(promises: ReadonlyArray<Promise<unknown>>, timeoutMs: number): Promise<number> {
  let settled = 0;
  const all = Promise.all(promises.map((p) => p.finally(() => settled++)));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
  return promises.length - settled;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
