/**
 * The bench's arithmetic: percentiles of latency samples and completions per second. Kept apart
 * from the load generators so the smoke test can check it on real samples.
 */

export interface Summary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * The p-th percentile (0-100) of an ascending array, interpolating linearly between the two
 * nearest ranks (numpy's default), so p99 of 150 samples is not just the maximum.
 */
export function percentile(sortedAscending: readonly number[], p: number): number {
  const n = sortedAscending.length;
  if (n === 0) return Number.NaN;
  if (p <= 0) return sortedAscending[0]!;
  if (p >= 100) return sortedAscending[n - 1]!;
  const rank = (p / 100) * (n - 1);
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  const a = sortedAscending[lower]!;
  const b = sortedAscending[upper]!;
  return a + (b - a) * (rank - lower);
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { count: 0, min: Number.NaN, mean: Number.NaN, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN };
  return {
    count: n,
    min: sorted[0]!,
    mean: sorted.reduce((s, v) => s + v, 0) / n,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[n - 1]!,
  };
}

/** Events per whole second since `originMs` (performance.now() clock), for the throughput-over-time chart. */
export class RateSeries {
  private readonly buckets = new Map<number, number>();

  constructor(private readonly originMs: number) {}

  add(atMs: number = performance.now()): void {
    const second = Math.floor((atMs - this.originMs) / 1000);
    this.buckets.set(second, (this.buckets.get(second) ?? 0) + 1);
  }

  /** [second, count] for every second from 0 to the last one with an event (gaps as 0). */
  points(): Array<[number, number]> {
    const last = Math.max(-1, ...this.buckets.keys());
    const out: Array<[number, number]> = [];
    for (let s = 0; s <= last; s++) out.push([s, this.buckets.get(s) ?? 0]);
    return out;
  }
}

/** Counts of timestamps inside [fromMs, toMs), per second: a closed loop's throughput over a window. */
export function ratePerSecond(timestampsMs: readonly number[], fromMs: number, toMs: number): number {
  if (toMs <= fromMs) return 0;
  let n = 0;
  for (const t of timestampsMs) if (t >= fromMs && t < toMs) n++;
  return n / ((toMs - fromMs) / 1000);
}

export function round(value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
