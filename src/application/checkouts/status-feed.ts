import { and, asc, desc, eq, gt } from 'drizzle-orm';
import type postgres from 'postgres';
import { checkoutStatusChanges } from '../../../db/schema';
import type { Database } from '../../../db/client';
import { CHECKOUT_STATUS_CHANNEL } from '../../activities/checkout/status';
import type { Logger } from '../../logger';
import type { CheckoutState } from '../../workflows/checkout/contract';

/**
 * The saga's change feed as an API instance follows it. The workflow appends every status change it
 * shows to `checkout_status_changes` and NOTIFYs `checkout_status` in the same transaction
 * (src/activities/checkout/status.ts); each API instance LISTENs on one connection of its own and
 * wakes the requests that follow that checkout, which then read the rows. Nothing here asks the
 * workflow, so following a checkout costs the worker nothing, and any number of API instances
 * hear every change (NOTIFY goes to every listener).
 */
export interface StatusFeed {
  /** Starts hearing a checkout's changes; subscribe before reading so no change falls between. */
  subscribe(checkoutId: string): StatusSubscription;
  close(): Promise<void>;
}

export interface StatusSubscription {
  /**
   * Resolves true as soon as a version after `afterVersion` is announced (at once if one already
   * was), or when the feed's connection came back and a change may have been missed; false when
   * `timeoutMs` passed or `signal` aborted first.
   */
  changed(afterVersion: number | undefined, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  close(): void;
}

interface Listener {
  announced: number;
  /** The connection dropped and came back: NOTIFYs sent meanwhile are gone, so read again. */
  missed: boolean;
  wake?: () => void;
}

/** While the feed is not listening yet (PostgreSQL down at start), followers read again this often. */
const UNHEARD_READ_EVERY_MS = 1_000;
const LISTEN_RETRY_MS = 2_000;

/**
 * LISTEN on its own connection (postgres.js keeps one for all listeners of the pool and listens
 * again after a reconnect). `onlisten` runs on every (re)listen: after the first, every follower
 * reads again, since notifications sent while the connection was down are lost. The API starts
 * while PostgreSQL is down, so the first LISTEN is retried in the background; until it holds,
 * followers read again every second rather than wait for news that cannot come.
 */
export function listenForStatusChanges(sql: postgres.Sql, logger: Logger): StatusFeed {
  const listeners = new Map<string, Set<Listener>>();
  let listening = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  const wakeAll = () => {
    for (const set of listeners.values()) {
      for (const listener of set) {
        listener.missed = true;
        listener.wake?.();
      }
    }
  };
  const listen = () => {
    sql
      .listen(
        CHECKOUT_STATUS_CHANNEL,
        (payload) => {
          const colon = payload.lastIndexOf(':');
          const version = Number(payload.slice(colon + 1));
          for (const listener of listeners.get(payload.slice(0, colon)) ?? []) {
            listener.announced = Math.max(listener.announced, version);
            listener.wake?.();
          }
        },
        () => {
          if (listening) logger.warn('status feed connection re-established; followers read again');
          listening = true;
          wakeAll();
        },
      )
      .then(
        (handle) => {
          if (closed) void handle.unlisten();
          else unlisten = handle.unlisten;
        },
        (err: unknown) => {
          logger.warn({ err }, `status feed not listening yet; trying again in ${LISTEN_RETRY_MS} ms`);
          if (!closed) retry = setTimeout(listen, LISTEN_RETRY_MS);
        },
      );
  };
  listen();

  return {
    subscribe(checkoutId) {
      const listener: Listener = { announced: -1, missed: false };
      let set = listeners.get(checkoutId);
      if (!set) listeners.set(checkoutId, (set = new Set()));
      set.add(listener);
      return {
        changed(afterVersion, timeoutMs, signal) {
          const news = () => listener.missed || listener.announced > (afterVersion ?? -1);
          const consume = () => {
            const had = news();
            listener.missed = false;
            return had;
          };
          if (news() || signal?.aborted || timeoutMs <= 0) return Promise.resolve(consume());
          const unheard = !listening;
          return new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => {
              if (unheard) listener.missed = true;
              done();
            }, unheard ? Math.min(timeoutMs, UNHEARD_READ_EVERY_MS) : timeoutMs);
            signal?.addEventListener('abort', done, { once: true });
            listener.wake = () => {
              if (news()) done();
            };
            function done() {
              clearTimeout(timer);
              signal?.removeEventListener('abort', done);
              delete listener.wake;
              resolve(consume());
            }
          });
        },
        close() {
          set.delete(listener);
          if (set.size === 0 && listeners.get(checkoutId) === set) listeners.delete(checkoutId);
        },
      };
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await unlisten?.();
    },
  };
}

export interface FeedEntry {
  version: number;
  /** The saga's state as it showed it (it holds no client secret: that stays with Stripe). */
  state: CheckoutState;
}

/** The newest state the saga showed, if its workflow writes the feed (checkout shape 4 on). */
export async function latestFeedEntry(db: Database, checkoutId: string): Promise<FeedEntry | undefined> {
  const [row] = await db
    .select({ version: checkoutStatusChanges.version, doc: checkoutStatusChanges.doc })
    .from(checkoutStatusChanges)
    .where(eq(checkoutStatusChanges.checkoutId, checkoutId))
    .orderBy(desc(checkoutStatusChanges.version))
    .limit(1);
  return row ? { version: row.version, state: row.doc as CheckoutState } : undefined;
}

/** Every state shown after `version`, oldest first: what a client that saw `version` missed. */
export async function feedEntriesAfter(db: Database, checkoutId: string, version: number): Promise<FeedEntry[]> {
  const rows = await db
    .select({ version: checkoutStatusChanges.version, doc: checkoutStatusChanges.doc })
    .from(checkoutStatusChanges)
    .where(and(eq(checkoutStatusChanges.checkoutId, checkoutId), gt(checkoutStatusChanges.version, version)))
    .orderBy(asc(checkoutStatusChanges.version));
  return rows.map((row) => ({ version: row.version, state: row.doc as CheckoutState }));
}
