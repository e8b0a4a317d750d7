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

/**
 * A checkout's whole state: the workflow's own answer, or what PostgreSQL keeps of it while no
 * worker answers (no `version` then, no 3-D Secure details). It holds what only the buyer or an
 * operator may see (email, client secret, compensation errors): each entry point presents its own
 * view of it, the API the customer's, the CLI the operator's.
 */
export type CheckoutRecord = Omit<CheckoutState, 'step' | 'version'> & { step: string | null; version?: number };

export interface CheckoutStatusRead {
  state: CheckoutRecord;
  /** Who answered: the workflow's query, or PostgreSQL because no worker did in time (or there is no workflow). */
  source: 'workflow' | 'database';
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

  let current = await readState(deps, row);
  deps.buyerPresence?.seen(checkoutId, current.state.status, deps.logger);
  const wait = options.waitForChangeMs ?? 0;
  const alreadyMoved = options.sinceVersion !== undefined && current.state.version !== undefined && current.state.version !== options.sinceVersion;
  if (wait > 0 && !alreadyMoved && !TERMINAL_STATUSES.includes(current.state.status)) {
    const deadline = Date.now() + wait;
    const seen = fingerprint(current.state);
    while (!options.signal?.aborted && Date.now() < deadline) {
      await sleep(Math.min(deps.timeouts.pollIntervalMs, deadline - Date.now()), options.signal);
      if (options.signal?.aborted) break;
      const next = await readState(deps, row);
      deps.buyerPresence?.seen(checkoutId, next.state.status, deps.logger);
      current = next;
      if (fingerprint(next.state) !== seen) break;
    }
  }
  return current;
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
): Promise<{ state: CheckoutRecord; timedOut: boolean }> {
  const deadline = Date.now() + timeoutMs;
  let { state } = await getCheckoutStatus(deps, checkoutId);
  while (!settled(state) && !TERMINAL_STATUSES.includes(state.status)) {
    const left = deadline - Date.now();
    if (left <= 0) return { state, timedOut: true };
    ({ state } = await getCheckoutStatus(deps, checkoutId, { waitForChangeMs: left, ...(state.version !== undefined ? { sinceVersion: state.version } : {}) }));
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
 * The workflow's own answer when a worker gives one within the query timeout; otherwise the row
 * the saga keeps in PostgreSQL, so status keeps working while every worker is down.
 */
async function readState(deps: CheckoutDeps, row: CheckoutRow): Promise<CheckoutStatusRead> {
  try {
    const handle = deps.temporal.workflow.getHandle(checkoutWorkflowId(row.id));
    const state = await deps.temporal.withDeadline(Date.now() + deps.timeouts.statusQueryMs, () => handle.query(statusQuery));
    return { source: 'workflow', state };
  } catch (err) {
    deps.logger.debug({ err, checkoutId: row.id }, 'status query not answered; reading PostgreSQL');
    const [fresh] = await deps.db.select().from(checkouts).where(eq(checkouts.id, row.id));
    return { source: 'database', state: recordFromRow(fresh ?? row) };
  }
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
