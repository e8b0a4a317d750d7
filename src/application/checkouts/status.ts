import { eq, sql } from 'drizzle-orm';
import { checkouts, ssoTokens } from '../../../db/schema';
import { hashToken, loginUrlFor, ssoTokenFor } from '../sign-in/tokens';
import {
  checkoutWorkflowId,
  statusQuery,
  TERMINAL_STATUSES,
  type CheckoutState,
  type CheckoutStatus,
  type CompensationState,
  type PaymentStatus,
} from '../../workflows/checkout/contract';
import type { CheckoutDeps } from './deps';
import { CheckoutNotFoundError } from './errors';

/** `GET /api/checkouts/:id` as DESIGN.md shapes it. */
export interface CheckoutStatusView {
  checkoutId: string;
  status: CheckoutStatus;
  step: string | null;
  orderId: string;
  amount: number | null;
  currency: string | null;
  payment: { status: PaymentStatus; clientSecret?: string; nextActionUrl?: string };
  failure?: { code: string; message: string };
  /**
   * `redirectUrl`: the one-time auto-login link into an account this checkout created, while usable.
   * `delivery: 'email'`: the account existed, so a sign-in link went to its address instead.
   */
  sso?: { redirectUrl: string } | { delivery: 'email' };
  /** What the undo did; technical errors stay in the workflow history, not in a customer's browser. */
  compensations: Omit<CompensationState, 'error'>[];
  updatedAt: string;
  /** Present when the workflow answered; a long-poll may pass it back as `sinceVersion`. */
  version?: number;
}

export interface CheckoutStatusRead {
  view: CheckoutStatusView;
  /** Who answered: the workflow's query, or PostgreSQL because no worker did in time. */
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
  const [row] = await deps.db.select().from(checkouts).where(eq(checkouts.id, checkoutId));
  if (!row) throw new CheckoutNotFoundError(checkoutId);

  let current = await readState(deps, row);
  deps.buyerPresence?.seen(checkoutId, current.view.status, deps.logger);
  const wait = options.waitForChangeMs ?? 0;
  const alreadyMoved = options.sinceVersion !== undefined && current.view.version !== undefined && current.view.version !== options.sinceVersion;
  if (wait > 0 && !alreadyMoved && !TERMINAL_STATUSES.includes(current.view.status)) {
    const deadline = Date.now() + wait;
    const seen = fingerprint(current.view);
    while (!options.signal?.aborted && Date.now() < deadline) {
      await sleep(Math.min(deps.timeouts.pollIntervalMs, deadline - Date.now()), options.signal);
      if (options.signal?.aborted) break;
      const next = await readState(deps, row);
      deps.buyerPresence?.seen(checkoutId, next.view.status, deps.logger);
      current = next;
      if (fingerprint(next.view) !== seen) break;
    }
  }
  return { ...current, view: await withSsoRedirect(deps, current.view) };
}

/**
 * The workflow's own answer when a worker gives one within the query timeout; otherwise the row
 * the saga keeps in PostgreSQL, so status keeps working while every worker is down.
 */
async function readState(deps: CheckoutDeps, row: CheckoutRow): Promise<CheckoutStatusRead> {
  try {
    const handle = deps.temporal.workflow.getHandle(checkoutWorkflowId(row.id));
    const state = await deps.temporal.withDeadline(Date.now() + deps.timeouts.statusQueryMs, () => handle.query(statusQuery));
    return { source: 'workflow', view: fromWorkflow(state) };
  } catch (err) {
    deps.logger.debug({ err, checkoutId: row.id }, 'status query not answered; reading PostgreSQL');
    const [fresh] = await deps.db.select().from(checkouts).where(eq(checkouts.id, row.id));
    return { source: 'database', view: fromRow(fresh ?? row) };
  }
}

function fromWorkflow(state: CheckoutState): CheckoutStatusView {
  const { payment } = state;
  return {
    checkoutId: state.checkoutId,
    status: state.status,
    step: state.step,
    orderId: state.orderId,
    amount: state.amount,
    currency: state.currency,
    payment: {
      status: payment.status,
      ...(payment.clientSecret ? { clientSecret: payment.clientSecret } : {}),
      ...(payment.nextActionUrl && state.status === 'REQUIRES_ACTION' ? { nextActionUrl: payment.nextActionUrl } : {}),
    },
    ...(state.failure ? { failure: { code: state.failure.code, message: state.failure.message } } : {}),
    compensations: state.compensations.map(({ name, status, outcome }) => ({ name, status, ...(outcome ? { outcome } : {}) })),
    updatedAt: state.updatedAt,
    version: state.version,
  };
}

function fromRow(row: CheckoutRow): CheckoutStatusView {
  const compensations = Array.isArray(row.compensations) ? (row.compensations as CompensationState[]) : [];
  return {
    checkoutId: row.id,
    status: row.status as CheckoutStatus,
    step: row.step,
    orderId: row.orderId,
    amount: row.amountMinor,
    currency: row.currency,
    payment: { status: (row.paymentStatus as PaymentStatus | null) ?? 'not_started' },
    ...(row.failureCode ? { failure: { code: row.failureCode, message: row.failureMessage ?? '' } } : {}),
    compensations: compensations.map(({ name, status, outcome }) => ({ name, status, ...(outcome ? { outcome } : {}) })),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/**
 * The auto-login link is recomputed here from SSO_SECRET (it is stored only as a hash) and shown
 * only while it can still work: completed checkout, token neither used, revoked nor expired, and
 * issued for the page (an account this checkout created). A token issued for email delivery has
 * another derivation, so what is recomputed here could never redeem it anyway.
 */
async function withSsoRedirect(deps: CheckoutDeps, view: CheckoutStatusView): Promise<CheckoutStatusView> {
  if (view.status !== 'COMPLETED') return view;
  const [token] = await deps.db
    .select({
      delivery: ssoTokens.delivery,
      tokenHash: ssoTokens.tokenHash,
      // The database's clock, the same one redeem checks against.
      usable: sql<boolean>`${ssoTokens.usedAt} is null and ${ssoTokens.revokedAt} is null and ${ssoTokens.expiresAt} > now()`,
    })
    .from(ssoTokens)
    .where(eq(ssoTokens.checkoutId, view.checkoutId));
  if (!token) return view;
  if (token.delivery === 'email') return { ...view, sso: { delivery: 'email' } };
  const rawToken = ssoTokenFor(deps.config.SSO_SECRET, view.checkoutId);
  if (!token.usable || token.tokenHash !== hashToken(rawToken)) return view;
  return { ...view, sso: { redirectUrl: loginUrlFor(deps.config.APP_URL, rawToken) } };
}

function fingerprint(view: CheckoutStatusView): string {
  return JSON.stringify([view.status, view.step, view.version, view.updatedAt, view.payment.status, view.compensations]);
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
