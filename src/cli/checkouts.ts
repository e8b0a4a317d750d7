import { CheckoutNotFoundError } from '../application/checkouts/errors';
import { findCheckoutId } from '../application/checkouts/find';
import type { CheckoutDeps } from '../application/checkouts/deps';
import type { CheckoutRecord } from '../application/checkouts/status';
import type { OrderSummary } from '../application/refunds/find-order';
import { formatMoney } from '../money';
import { TERMINAL_STATUSES, type CheckoutStatus } from '../workflows/checkout/contract';
import { CliError } from './errors';
import { fields, formatTime } from './output';

/** The checkout behind what the operator pasted (checkout id, `checkout-<id>` or order id), or exit 1 "unknown checkout". */
export async function checkoutIdFor(deps: CheckoutDeps, rawId: string): Promise<string> {
  try {
    return await findCheckoutId(deps.db, rawId);
  } catch (err) {
    if (err instanceof CheckoutNotFoundError) throw new CliError('UNKNOWN_CHECKOUT', `unknown checkout ${rawId}`);
    throw err;
  }
}

export const isTerminal = (status: CheckoutStatus): boolean => TERMINAL_STATUSES.includes(status);

export function money(amount: number | null | undefined, currency: string | null | undefined): string | undefined {
  return amount === null || amount === undefined ? undefined : currency ? formatMoney(amount, currency) : `${amount} (minor units)`;
}

/** `PARTIALLY_REFUNDED, EUR 5.00 of EUR 12.50 refunded`: the order's money in one line, then its disputes. */
export function describeOrder(order: OrderSummary): string {
  const refunded =
    order.refundedMinor > 0
      ? `, ${formatMoney(order.refundedMinor, order.currency)} of ${formatMoney(order.amountMinor, order.currency)} refunded`
      : '';
  const disputes = order.disputes.map((d) => {
    const what = `dispute ${d.disputeId}: ${formatMoney(d.amountMinor, d.currency)} (${d.reason})`;
    if (d.outcome === 'lost') return `${what} lost, returned to the buyer`;
    if (d.outcome === 'won') return `${what} won`;
    return `${what} ${d.status}${d.evidenceDueBy ? `, evidence due ${formatTime(d.evidenceDueBy)}` : ''}`;
  });
  return [`${order.id}  ${order.status}${refunded}`, ...disputes].join('\n');
}

/** The checkout's state as an operator reads it: everything, compensation errors included. */
export function renderState(state: CheckoutRecord, extra: { order?: OrderSummary; workflow?: string; webUi?: string; note?: string } = {}): string {
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
    ['Note', extra.note],
  ]);
}

/** The compensations still failing, as `name: error` for a one-line reason. */
export function failingCompensations(state: CheckoutRecord): string {
  return state.compensations
    .filter((c) => c.status === 'failed')
    .map((c) => `${c.name}${c.error ? ` (${c.error})` : ''}`)
    .join(', ');
}
