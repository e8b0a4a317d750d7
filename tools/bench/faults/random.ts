/**
 * A seeded random source (mulberry32), so a run's mix of customers and the order of its faults can
 * be replayed: the seed is printed at the start and kept in the report (`--seed` takes it back).
 */
export interface Random {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform whole number in [min, max]. */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One of `items`, each as likely as its weight. */
  weighted<T extends { weight: number }>(items: readonly T[]): T;
  /** Exponentially distributed wait with the given mean: the gaps between arrivals at a steady rate. */
  exponential(mean: number): number;
}

export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    weighted(items) {
      const total = items.reduce((sum, i) => sum + i.weight, 0);
      let pick = next() * total;
      for (const item of items) {
        pick -= item.weight;
        if (pick < 0) return item;
      }
      return items[items.length - 1]!;
    },
    exponential: (mean) => -Math.log(1 - next()) * mean,
  };
}
