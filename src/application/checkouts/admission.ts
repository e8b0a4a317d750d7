import { and, count, eq, gt, inArray, sql } from 'drizzle-orm';
import { checkouts } from '../../../db/schema';
import type { Database } from '../../../db/client';
import { CheckoutsBusyError, TooManyCheckoutsInProgressError } from './errors';

/**
 * Load shedding at the front door. A checkout the workers cannot start for a minute is worse than a
 * quick "busy, retry": the customer waits with nothing charged, and every checkout behind it waits
 * longer still. So a new checkout is refused (503 + Retry-After) while `limit` are in progress.
 *
 * In progress = PENDING or PROCESSING in PostgreSQL, so every API instance counts the same checkouts.
 * Only rows created within `windowMs` count: a checkout waiting minutes on 3-D Secure, or stuck,
 * takes no worker time and must not close the door for good. The count is read at most every
 * `refreshMs`; in between this instance adds the checkouts it admitted itself. Each client address
 * gets only its own share of the door besides (PerClientAdmission, answered 429).
 */
export interface Admission {
  /**
   * Inside the transaction that records a new checkout: resolves when it may start, throws
   * CheckoutsBusyError when it may not. The count is read through `tx`, the connection the caller
   * already holds: from the pool, it would wait for a connection that a burst of submits, each
   * holding one here, never gives back.
   */
  admit(tx: Transaction): Promise<void>;
  /**
   * Inside the transaction that records a new checkout of `clientHash`: throws
   * TooManyCheckoutsInProgressError when that client already has `perClient.limit` in progress.
   */
  admitClient(tx: Transaction, clientHash: string): Promise<void>;
}

export interface AdmissionOptions {
  limit: number;
  refreshMs?: number;
  windowMs?: number;
  retryAfterSeconds?: number;
  perClient?: PerClientAdmission;
}

/**
 * One client's share of the door. The global limit keeps the workers from drowning and so counts
 * only recent checkouts; this one keeps a single client from filling it, so it counts every checkout
 * of that client still in progress, however long it has waited on 3-D Secure (the row says
 * PROCESSING then), up to `windowMs`, after which a checkout stuck in progress frees its slot.
 */
export interface PerClientAdmission {
  /** 0 turns it off. */
  limit: number;
  windowMs: number;
  retryAfterSeconds?: number;
}

type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

const IN_PROGRESS_STATUSES = ['PENDING', 'PROCESSING'];
const DEFAULT_WINDOW_MS = 120_000;
/** Distinguishes these advisory locks from the other users of the two-key form. */
const CLIENT_ADMISSION_LOCK_CLASS = 7260314;

/** Checkouts in progress that count against the limit: PENDING or PROCESSING, created within `windowMs`. */
export async function countInProgress(db: Database | Transaction, windowMs = DEFAULT_WINDOW_MS): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(checkouts)
    .where(and(inArray(checkouts.status, IN_PROGRESS_STATUSES), gt(checkouts.createdAt, sql`now() - make_interval(secs => ${windowMs / 1000})`)));
  return row?.n ?? 0;
}

export function createAdmission(opts: AdmissionOptions): Admission {
  const { limit, refreshMs = 250, windowMs = DEFAULT_WINDOW_MS, retryAfterSeconds = 2 } = opts;
  let counted = 0;
  let admittedSince = 0;
  let countedAt = Number.NEGATIVE_INFINITY;
  let refreshing: Promise<void> | undefined;

  // Concurrent submits share one count, read through the transaction of the first that needs it.
  const refresh = (tx: Transaction) =>
    (refreshing ??= (async () => {
      try {
        counted = await countInProgress(tx, windowMs);
        admittedSince = 0;
        countedAt = performance.now();
      } finally {
        refreshing = undefined;
      }
    })());

  return {
    async admit(tx) {
      if (limit === 0) return;
      if (performance.now() - countedAt >= refreshMs) await refresh(tx);
      if (counted + admittedSince >= limit) throw new CheckoutsBusyError(retryAfterSeconds);
      admittedSince += 1;
    },

    async admitClient(tx, clientHash) {
      const perClient = opts.perClient;
      if (!perClient || perClient.limit === 0) return;
      // Two submits of one client at once are counted one after the other, so both cannot squeeze in.
      await tx.execute(sql`select pg_advisory_xact_lock(${CLIENT_ADMISSION_LOCK_CLASS}, hashtext(${clientHash}))`);
      const [row] = await tx
        .select({ n: count() })
        .from(checkouts)
        .where(
          and(
            eq(checkouts.clientHash, clientHash),
            inArray(checkouts.status, [...IN_PROGRESS_STATUSES, 'REQUIRES_ACTION']),
            gt(checkouts.createdAt, sql`now() - make_interval(secs => ${perClient.windowMs / 1000})`),
          ),
        );
      if ((row?.n ?? 0) >= perClient.limit) throw new TooManyCheckoutsInProgressError(perClient.limit, perClient.retryAfterSeconds ?? 30);
    },
  };
}
