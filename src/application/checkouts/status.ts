import { WorkflowNotFoundError } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { checkouts } from '../../../db/schema';
import {
  checkoutWorkflowId,
  statusQuery,
  TERMINAL_STATUSES,
  type CheckoutState,
  type CompensationState,
  type PaymentStatus,
} from '../../workflows/checkout/contract';
import { rethrowTemporalUnavailable } from '../temporal-errors';
import type { CheckoutDeps } from './deps';
import { CheckoutNotFoundError } from './errors';
import { feedEntriesAfter, latestFeedEntry, type FeedEntry, type StatusSubscription } from './status-feed';

/**
 * A checkout's whole state: as the saga last showed it in its change feed, the workflow's own
 * answer, or what PostgreSQL keeps of it while neither is there (no `version` then, no 3-D Secure
 * details). It holds what only the buyer or an operator may see (email, compensation errors): each
 * entry point presents its own view of it, the API the customer's, the CLI the operator's. Never a
 * client secret: that stays with Stripe (client-secrets.ts).
 */
export type CheckoutRecord = Omit<CheckoutState, 'step' | 'version' | 'payment'> & {
  step: string | null;
  version?: number;
  payment: Omit<CheckoutState['payment'], 'clientSecret'>;
};

export interface CheckoutStatusRead {
  state: CheckoutRecord;
  /**
   * Who answered: the saga's change feed (checkout shape 4 on); the workflow's query for a checkout
   * started before the feed; PostgreSQL's checkouts row when neither answers in time.
   */
  source: 'feed' | 'workflow' | 'database';
}

export interface StatusOptions {
  /** Long-poll: answer as soon as anything changes, or after this many ms. */
  waitForChangeMs?: number;
  /** The version the client already shows: if the checkout is past it, answer at once. */
  sinceVersion?: number;
  /** Ends a long-poll early (the client went away, or the server is shutting down). */
  signal?: AbortSignal;
}

type CheckoutRow = typeof checkouts.$inferSelect;

export async function getCheckoutStatus(deps: CheckoutDeps, checkoutId: string, options: StatusOptions = {}): Promise<CheckoutStatusRead> {
  const row = await checkoutRow(deps, checkoutId);
  const wait = options.waitForChangeMs ?? 0;
  // Subscribed before the first read, so a change between the read and the wait still wakes it.
  const subscription = wait > 0 ? deps.statusFeed?.subscribe(checkoutId) : undefined;
  try {
    let current = await readState(deps, row);
    deps.buyerPresence?.seen(checkoutId, current.state.status, deps.logger);
    const alreadyMoved = options.sinceVersion !== undefined && current.state.version !== undefined && current.state.version !== options.sinceVersion;
    if (wait <= 0 || alreadyMoved || TERMINAL_STATUSES.includes(current.state.status)) return current;
    const deadline = Date.now() + wait;
    const seen = fingerprint(current.state);
    while (!options.signal?.aborted && Date.now() < deadline) {
      await waitForNews(deps, subscription, current, deadline - Date.now(), options.signal);
      if (options.signal?.aborted) break;
      current = await readState(deps, row);
      deps.buyerPresence?.seen(checkoutId, current.state.status, deps.logger);
      if (fingerprint(current.state) !== seen) break;
    }
    return current;
  } finally {
    subscription?.close();
  }
}

/** What a follower (Server-Sent Events) gets: each new state, or a quiet interval it may mark with a heartbeat. */
export type CheckoutFollowEvent = { kind: 'change'; read: CheckoutStatusRead } | { kind: 'idle' };

export interface FollowOptions {
  /** The version the client last received (`Last-Event-ID`): the states after it come first, none missed. */
  afterVersion?: number;
  /** An `idle` event after this long without a change. */
  idleMs: number;
  signal: AbortSignal;
}

/**
 * Every state a checkout shows from now (or after `afterVersion`) until it ends, one per version,
 * in order. Fed by the change feed: rows read only when the feed announces one. A checkout without
 * feed rows (started before it) is followed by asking again at the poll cadence.
 */
export async function* followCheckout(deps: CheckoutDeps, checkoutId: string, options: FollowOptions): AsyncGenerator<CheckoutFollowEvent> {
  const row = await checkoutRow(deps, checkoutId);
  const subscription = deps.statusFeed?.subscribe(checkoutId);
  try {
    let lastVersion = options.afterVersion;
    let last: CheckoutStatusRead | undefined;
    let quietSince = Date.now();
    for (;;) {
      const { news, current } = await readNews(deps, row, lastVersion, last);
      for (const read of news) {
        deps.buyerPresence?.seen(checkoutId, read.state.status, deps.logger);
        yield { kind: 'change', read };
        last = read;
        lastVersion = read.state.version ?? lastVersion;
        quietSince = Date.now();
        if (TERMINAL_STATUSES.includes(read.state.status)) return;
      }
      // A client that already has the ending (it resumed after it): nothing more will come.
      if (current && TERMINAL_STATUSES.includes(current.state.status)) return;
      last ??= current;
      if (options.signal.aborted) return;
      await waitForNews(deps, subscription, last, Math.max(0, quietSince + options.idleMs - Date.now()), options.signal);
      if (options.signal.aborted) return;
      if (Date.now() - quietSince >= options.idleMs) {
        if (last) deps.buyerPresence?.seen(checkoutId, last.state.status, deps.logger);
        yield { kind: 'idle' };
        quietSince = Date.now();
      }
    }
  } finally {
    subscription?.close();
  }
}

/**
 * Waits for the next change of a state read from the feed: until the feed announces one. A state
 * read elsewhere (a checkout started before the feed, or one whose saga has not reported yet) is
 * read again at the poll cadence, or as soon as the feed announces its first row.
 */
async function waitForNews(deps: CheckoutDeps, subscription: StatusSubscription | undefined, current: CheckoutStatusRead | undefined, maxMs: number, signal?: AbortSignal): Promise<void> {
  const waitMs = current?.source === 'feed' && subscription ? maxMs : Math.min(deps.timeouts.pollIntervalMs, maxMs);
  if (subscription) await subscription.changed(current?.state.version, waitMs, signal);
  else await sleep(waitMs, signal);
}

/**
 * The states a follower has not seen (`news`): the feed's rows after its version (only the newest
 * when it has seen none), or, for a checkout without feed rows, a fresh read when it differs from
 * the last. `current`: the newest state known, news or not.
 */
async function readNews(
  deps: CheckoutDeps,
  row: CheckoutRow,
  afterVersion: number | undefined,
  last: CheckoutStatusRead | undefined,
): Promise<{ news: CheckoutStatusRead[]; current?: CheckoutStatusRead }> {
  if (deps.statusFeed) {
    const latest = await latestFeedEntry(deps.db, row.id);
    if (latest && (afterVersion === undefined || latest.version <= afterVersion)) {
      const current = fromFeed(latest);
      return { news: afterVersion === undefined ? [current] : [], current };
    }
    if (latest) {
      const news = (await feedEntriesAfter(deps.db, row.id, afterVersion!)).map(fromFeed);
      return { news, current: news.at(-1) ?? fromFeed(latest) };
    }
    // Its saga reports in a moment: a follower gets its first state with a version, from the feed.
    if (Date.now() - row.createdAt.getTime() < FIRST_REPORT_GRACE_MS) return { news: [] };
  }
  const read = await readState(deps, row, { skipFeed: true });
  const known = last ? fingerprint(last.state) === fingerprint(read.state) : afterVersion !== undefined && read.state.version !== undefined && read.state.version <= afterVersion;
  return { news: known ? [] : [read], current: read };
}

/**
 * Follows a checkout through the status long-poll until `settled` holds, the checkout has ended, or
 * `timeoutMs` has passed, so it answers as soon as the checkout changes. Returns the last state
 * seen, and whether time ran out.
 */
export async function waitForCheckout(
  deps: CheckoutDeps,
  checkoutId: string,
  settled: (state: CheckoutRecord) => boolean,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ state: CheckoutRecord; timedOut: boolean }> {
  const deadline = Date.now() + timeoutMs;
  let { state } = await getCheckoutStatus(deps, checkoutId);
  while (!settled(state) && !TERMINAL_STATUSES.includes(state.status)) {
    const left = deadline - Date.now();
    if (left <= 0 || signal?.aborted) return { state, timedOut: true };
    ({ state } = await getCheckoutStatus(deps, checkoutId, { waitForChangeMs: left, ...(state.version !== undefined ? { sinceVersion: state.version } : {}), ...(signal ? { signal } : {}) }));
  }
  return { state, timedOut: false };
}

/** The run of a checkout's workflow, where an operator looks next (Temporal's Web UI); undefined while none was ever started. */
export interface CheckoutRun {
  workflowId: string;
  runId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, TERMINATED ... */
  status: string;
  startTime: Date;
  closeTime: Date | null;
}

export async function checkoutRun(deps: Pick<CheckoutDeps, 'temporal'>, checkoutId: string): Promise<CheckoutRun | undefined> {
  try {
    const description = await deps.temporal.workflow.getHandle(checkoutWorkflowId(checkoutId)).describe();
    return {
      workflowId: description.workflowId,
      runId: description.runId,
      status: description.status.name,
      startTime: description.startTime,
      closeTime: description.closeTime ?? null,
    };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    return rethrowTemporalUnavailable(err);
  }
}

export async function checkoutRow(deps: Pick<CheckoutDeps, 'db'>, checkoutId: string): Promise<CheckoutRow> {
  const [row] = await deps.db.select().from(checkouts).where(eq(checkouts.id, checkoutId));
  if (!row) throw new CheckoutNotFoundError(checkoutId);
  return row;
}

/**
 * The saga's own last word: its change feed when it writes one; else the workflow's answer when a
 * worker gives one within the query timeout; else the row the saga keeps in PostgreSQL, so status
 * keeps working while every worker is down.
 */
async function readState(deps: CheckoutDeps, row: CheckoutRow, opts: { skipFeed?: boolean } = {}): Promise<CheckoutStatusRead> {
  if (deps.statusFeed && !opts.skipFeed) {
    const entry = await latestFeedEntry(deps.db, row.id);
    if (entry) return fromFeed(entry);
    // Just started: its saga has not reported yet, and the row the start wrote says as much as the workflow could.
    if (Date.now() - row.createdAt.getTime() < FIRST_REPORT_GRACE_MS) return { source: 'database', state: recordFromRow(row) };
  }
  try {
    const handle = deps.temporal.workflow.getHandle(checkoutWorkflowId(row.id));
    // Checkouts that ran before the client secret left the history still hold it: the buyer's view gets it from Stripe.
    const { payment, ...state } = await deps.temporal.withDeadline(Date.now() + deps.timeouts.statusQueryMs, () => handle.query(statusQuery));
    const { status, paymentIntentId, captureMethod } = payment;
    return { source: 'workflow', state: { ...state, payment: { status, ...(paymentIntentId ? { paymentIntentId } : {}), ...(captureMethod ? { captureMethod } : {}) } } };
  } catch (err) {
    deps.logger.debug({ err, checkoutId: row.id }, 'status query not answered; reading PostgreSQL');
    const [fresh] = await deps.db.select().from(checkouts).where(eq(checkouts.id, row.id));
    return { source: 'database', state: recordFromRow(fresh ?? row) };
  }
}

/**
 * How long a new checkout is answered from its row while its saga has not written the feed yet.
 * Past it, a checkout without feed rows is one whose workflow predates the feed: asked directly.
 */
const FIRST_REPORT_GRACE_MS = 5_000;

function fromFeed(entry: FeedEntry): CheckoutStatusRead {
  return { source: 'feed', state: { ...entry.state, version: entry.version } };
}

/** What PostgreSQL knows of a checkout: written at its start and by the saga's steps and outcomes. */
export function recordFromRow(row: CheckoutRow): CheckoutRecord {
  return {
    checkoutId: row.id,
    orderId: row.orderId,
    status: row.status as CheckoutRecord['status'],
    step: row.step,
    amount: row.amountMinor,
    currency: row.currency,
    customerEmail: row.customerEmail,
    payment: {
      status: (row.paymentStatus as PaymentStatus | null) ?? 'not_started',
      ...(row.paymentIntentId ? { paymentIntentId: row.paymentIntentId } : {}),
    },
    ...(row.failureCode ? { failure: { code: row.failureCode, message: row.failureMessage ?? '' } } : {}),
    ...(row.userId ? { userId: row.userId } : {}),
    compensations: Array.isArray(row.compensations) ? (row.compensations as CompensationState[]) : [],
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** What a watcher sees change; a compensation's retried error alone is no news to the buyer. */
function fingerprint(state: CheckoutRecord): string {
  const compensations = state.compensations.map(({ name, status, outcome }) => [name, status, outcome]);
  return JSON.stringify([state.status, state.step, state.version, state.updatedAt, state.payment.status, compensations]);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
