import { and, count, gt, inArray, sql } from 'drizzle-orm';
import { checkouts } from '../../db/schema';
import type { Database } from '../db/client';
import { CheckoutsBusyError } from './errors';

/**
 * Load shedding at the front door. A checkout the workers cannot start for a minute is worse than a
 * quick "busy, retry": the customer waits with nothing charged, and every checkout behind it waits
 * longer still. So a new checkout is refused (503 + Retry-After) while `limit` are in progress.
 *
 * In progress = PENDING or PROCESSING in PostgreSQL, so every API instance counts the same checkouts.
 * Only rows created within `windowMs` count: a checkout waiting minutes on 3-D Secure, or stuck,
 * takes no worker time and must not close the door for good. The count is read at most every
 * `refreshMs`; in between this instance adds the checkouts it admitted itself.
 */
export interface Admission {
  /** Resolves when a new checkout may start; throws CheckoutsBusyError when it may not. */
  admit(): Promise<void>;
}

export interface AdmissionOptions {
  limit: number;
  refreshMs?: number;
  windowMs?: number;
  retryAfterSeconds?: number;
}

const IN_PROGRESS_STATUSES = ['PENDING', 'PROCESSING'];
const DEFAULT_WINDOW_MS = 120_000;

/** Checkouts in progress that count against the limit: PENDING or PROCESSING, created within `windowMs`. */
export async function countInProgress(db: Database, windowMs = DEFAULT_WINDOW_MS): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(checkouts)
    .where(and(inArray(checkouts.status, IN_PROGRESS_STATUSES), gt(checkouts.createdAt, sql`now() - make_interval(secs => ${windowMs / 1000})`)));
  return row?.n ?? 0;
}

export function createAdmission(db: Database, opts: AdmissionOptions): Admission {
  const { limit, refreshMs = 250, windowMs = DEFAULT_WINDOW_MS, retryAfterSeconds = 2 } = opts;
  let counted = 0;
  let admittedSince = 0;
  let countedAt = Number.NEGATIVE_INFINITY;
  let refreshing: Promise<void> | undefined;

  const refresh = () =>
    (refreshing ??= (async () => {
      try {
        counted = await countInProgress(db, windowMs);
        admittedSince = 0;
        countedAt = performance.now();
      } finally {
        refreshing = undefined;
      }
    })());

  return {
    async admit() {
      if (limit === 0) return;
      if (performance.now() - countedAt >= refreshMs) await refresh();
      if (counted + admittedSince >= limit) throw new CheckoutsBusyError(retryAfterSeconds);
      admittedSince += 1;
    },
  };
}
