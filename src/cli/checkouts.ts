import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { orders } from '../../db/schema';
import type { Database } from '../../db/client';
import { findOrder } from '../application/refunds/find-order';
import { formatMoney } from '../money';
import {
  checkoutWorkflowId,
  searchAttributes,
  statusQuery,
  TERMINAL_STATUSES,
  type CheckoutState,
  type CheckoutStatus,
} from '../workflows/checkout/contract';
import { CliError } from './errors';
import { fields, formatTime } from './output';

/** A worker answers a query in milliseconds; past this, the workflow's search attributes answer instead. */
export const QUERY_TIMEOUT_MS = 5_000;
const POLL_INTERVAL_MS = 300;

/** Operators paste whatever they have: the checkout id or the Web UI's workflow id `checkout-<id>`. */
export function normaliseCheckoutId(raw: string): string {
  const trimmed = raw.trim();
  return trimmed.startsWith('checkout-') ? trimmed.slice('checkout-'.length) : trimmed;
}

export interface FoundCheckout {
  checkoutId: string;
  handle: WorkflowHandle;
  description: WorkflowExecutionDescription;
}

/**
 * The checkout's workflow, or exit 1 "unknown checkout". An order id works too (customers and
 * refunds speak of orders): when no checkout has the id, the order's checkout is looked up.
 */
export async function findCheckout(client: Client, rawId: string, db?: () => Database): Promise<FoundCheckout> {
  const describe = async (checkoutId: string): Promise<FoundCheckout | undefined> => {
    const handle = client.workflow.getHandle(checkoutWorkflowId(checkoutId));
    try {
      return { checkoutId, handle, description: await handle.describe() };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  };
  const checkoutId = normaliseCheckoutId(rawId);
  const found = await describe(checkoutId);
  if (found) return found;
  const order = db ? await findOrder(db(), checkoutId).catch(() => undefined) : undefined;
  const viaOrder = order && order.id === checkoutId.toLowerCase() ? await describe(order.checkoutId) : undefined;
  if (viaOrder) return viaOrder;
  throw new CliError('UNKNOWN_CHECKOUT', `unknown checkout ${rawId}`);
}

/** The status the search attributes carry: what the Web UI shows, and all there is when no worker answers. */
export function statusFromSearchAttributes(description: WorkflowExecutionDescription): CheckoutStatus | undefined {
  return description.typedSearchAttributes.get(searchAttributes.status) as CheckoutStatus | undefined;
}

export async function queryState(client: Client, handle: WorkflowHandle): Promise<CheckoutState> {
  return client.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.query(statusQuery));
}

/**
 * Polls the status query until `done` holds or the time is up. A query failing in between (the
 * workflow task in flight, a worker restarting) is asked again; the last state seen is returned
 * with `timedOut` so the caller can say where it stopped.
 */
export async function waitForState(
  client: Client,
  handle: WorkflowHandle,
  done: (state: CheckoutState) => boolean,
  timeoutMs: number,
): Promise<{ state: CheckoutState | undefined; timedOut: boolean }> {
  const deadline = Date.now() + timeoutMs;
  let state: CheckoutState | undefined;
  for (;;) {
    try {
      state = await queryState(client, handle);
      if (done(state)) return { state, timedOut: false };
    } catch {
      // Asked again below; the deadline bounds how long.
    }
    if (Date.now() >= deadline) return { state, timedOut: true };
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

export const isTerminal = (status: CheckoutStatus): boolean => TERMINAL_STATUSES.includes(status);

export function money(amount: number | null | undefined, currency: string | null | undefined): string | undefined {
  return amount === null || amount === undefined ? undefined : currency ? formatMoney(amount, currency) : `${amount} (minor units)`;
}

export type OrderSummary = Pick<typeof orders.$inferSelect, 'id' | 'status' | 'amountMinor' | 'refundedMinor' | 'currency'>;

export async function orderOfCheckout(db: Database, checkoutId: string): Promise<OrderSummary | undefined> {
  const [order] = await db
    .select({ id: orders.id, status: orders.status, amountMinor: orders.amountMinor, refundedMinor: orders.refundedMinor, currency: orders.currency })
    .from(orders)
    .where(eq(orders.checkoutId, checkoutId));
  return order;
}

/** `PARTIALLY_REFUNDED, EUR 5.00 of EUR 12.50 refunded`: the order's money in one line. */
export function describeOrder(order: OrderSummary): string {
  const refunded =
    order.refundedMinor > 0
      ? `, ${formatMoney(order.refundedMinor, order.currency)} of ${formatMoney(order.amountMinor, order.currency)} refunded`
      : '';
  return `${order.id}  ${order.status}${refunded}`;
}

/** The checkout's state as an operator reads it. */
export function renderState(state: CheckoutState, extra: { order?: OrderSummary; workflow?: string; webUi?: string } = {}): string {
  const step = state.step ? ` (step ${state.step})` : '';
  const compensations = state.compensations.length
    ? state.compensations
        .map((c) => `${c.name.padEnd(15)} ${c.status.padEnd(8)} ${c.outcome ?? c.error ?? ''}`.trimEnd())
        .join('\n')
    : undefined;
  return fields([
    ['Checkout', state.checkoutId],
    ['Status', `${state.status}${step}`],
    ['Customer', state.customerEmail],
    ['Amount', money(state.amount, state.currency)],
    ['Payment', [state.payment.status, state.payment.paymentIntentId].filter(Boolean).join('  ')],
    ['Order', extra.order ? describeOrder(extra.order) : state.orderId],
    ['Failure', state.failure ? `${state.failure.code}: ${state.failure.message}` : undefined],
    ['Compensations', compensations],
    ['Updated', formatTime(state.updatedAt)],
    ['Workflow', extra.workflow],
    ['Web UI', extra.webUi],
  ]);
}

/** The compensations still failing, as `name: error` for a one-line reason. */
export function failingCompensations(state: CheckoutState): string {
  return state.compensations
    .filter((c) => c.status === 'failed')
    .map((c) => `${c.name}${c.error ? ` (${c.error})` : ''}`)
    .join(', ');
}
