import type { OrderHistoryDispute, OrderHistoryLine, OrderHistoryRefund, OrderHistoryStatusEntry, orderHistoryOrders } from '../../db/order-history-schema';
import type { CheckoutEvent } from '../kafka/consumer/decode';

/**
 * How one event changes an order's row in the read model: a pure function, so the rules can be read
 * (and tested) apart from Kafka and SQL.
 *
 * The row is a function of the *set* of events applied, with the per-order sequence deciding
 * precedence, so the same events in any delivery order end in the same row:
 * - current state (status, refunded total, last event) comes from the highest sequence seen: an
 *   older event never overrides a newer one;
 * - facts that never change over an order's life (lines and prices, total, currency, account,
 *   payment intent) are taken from whichever event brings them first;
 * - histories (status changes, refunds) are sets keyed by event id, kept sorted by sequence: a late
 *   event adds its entry in its place instead of being lost (a refund replayed from the DLQ after a
 *   newer one still shows up in the list).
 * An event for an order never seen creates the row from what the event carries.
 */

export type OrderHistoryRow = typeof orderHistoryOrders.$inferSelect;
export type OrderHistoryWrite = Omit<OrderHistoryRow, 'projectedAt'>;

export const ORDER_HISTORY_STATUSES = ['PENDING', 'AUTHORIZED', 'PAID', 'CONFIRMED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'DISPUTED', 'FAILED', 'CANCELLED', 'NEEDS_ATTENTION'] as const;
export type OrderHistoryStatus = (typeof ORDER_HISTORY_STATUSES)[number];

/** `applied`: the newest event of its order so far; `late`: older than what the row already holds. */
export type ProjectionOutcome = 'applied' | 'late';

/** The status an event puts the order in; undefined for events that are not a status change. */
export function statusOf(event: CheckoutEvent): OrderHistoryStatus | undefined {
  switch (event.type) {
    case 'checkout.started':
      return 'PENDING';
    case 'payment.authorized':
      return 'AUTHORIZED';
    case 'payment.captured':
      return 'PAID';
    case 'order.confirmed':
      return 'CONFIRMED';
    case 'checkout.failed':
      return 'FAILED';
    case 'checkout.cancelled':
      return 'CANCELLED';
    case 'checkout.needs_attention':
      return 'NEEDS_ATTENTION';
    case 'payment.refunded': {
      const d = event.data as CheckoutEvent<'payment.refunded'>['data'];
      return d.totalRefunded >= d.orderAmount ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
    }
    case 'payment.disputed':
      return 'DISPUTED';
    case 'payment.dispute_closed': {
      // Decided: the order's money tells its status again (a lost dispute counts as returned).
      const d = event.data as CheckoutEvent<'payment.dispute_closed'>['data'];
      return d.totalReturned >= d.orderAmount ? 'REFUNDED' : d.totalReturned > 0 ? 'PARTIALLY_REFUNDED' : 'CONFIRMED';
    }
    default:
      return undefined;
  }
}

export function project(current: OrderHistoryRow | OrderHistoryWrite | undefined, event: CheckoutEvent): { row: OrderHistoryWrite; outcome: ProjectionOutcome } {
  const { data } = event;
  const sequence = data.sequence;
  const time = new Date(event.time);
  const newest = !current || sequence > current.lastSequence;

  const row: OrderHistoryWrite = current
    ? { ...current, lines: [...current.lines], refunds: [...current.refunds], disputes: [...current.disputes], statusHistory: [...current.statusHistory] }
    : {
        orderId: data.orderId,
        checkoutId: data.checkoutId,
        customerEmail: data.customerEmail,
        customerName: null,
        userId: null,
        status: 'PENDING',
        amountMinor: null,
        currency: null,
        lines: [],
        refundedMinor: 0,
        refunds: [],
        disputes: [],
        statusHistory: [],
        failure: null,
        paymentIntentId: null,
        lastSequence: sequence,
        lastEventId: event.id,
        placedAt: time,
        updatedAt: time,
      };

  const fillTotal = (amount: number, currency: string) => {
    if (row.amountMinor === null) row.amountMinor = amount;
    if (row.currency === null) row.currency = currency.toUpperCase();
  };
  const fillPricedLines = (lines: CheckoutEvent<'stock.reserved'>['data']['lines']) => {
    // Priced lines are the order's fact; the requested cart is only a stand-in until they arrive.
    if (row.lines.length === 0 || row.lines.every((l) => l.unitPrice === null)) {
      row.lines = lines.map((l): OrderHistoryLine => ({ sku: l.sku, name: l.name, quantity: l.quantity, unitPrice: l.unitPrice, lineTotal: l.lineTotal }));
    }
  };

  switch (event.type) {
    case 'checkout.started': {
      const d = data as CheckoutEvent<'checkout.started'>['data'];
      if (row.lines.length === 0) row.lines = d.items.map((i) => ({ sku: i.sku, name: null, quantity: i.quantity, unitPrice: null, lineTotal: null }));
      break;
    }
    case 'stock.reserved': {
      const d = data as CheckoutEvent<'stock.reserved'>['data'];
      fillTotal(d.amount, d.currency);
      fillPricedLines(d.lines);
      break;
    }
    case 'payment.authorized':
    case 'payment.captured': {
      const d = data as CheckoutEvent<'payment.captured'>['data'];
      fillTotal(d.amount, d.currency);
      row.paymentIntentId ??= d.paymentIntentId;
      break;
    }
    case 'payment.disputed': {
      const d = data as CheckoutEvent<'payment.disputed'>['data'];
      row.disputes = withDispute(row.disputes, d.disputeId, d.amount, d.currency, (entry) => ({
        ...entry,
        reason: d.reason,
        evidenceDueBy: entry.outcome ? null : d.evidenceDueBy,
        openedAt: event.time,
      }));
      break;
    }
    case 'payment.dispute_closed': {
      const d = data as CheckoutEvent<'payment.dispute_closed'>['data'];
      row.disputes = withDispute(row.disputes, d.disputeId, d.amount, d.currency, (entry) => ({ ...entry, outcome: d.outcome, evidenceDueBy: null, closedAt: event.time }));
      break;
    }
    case 'user.created': {
      row.userId ??= (data as CheckoutEvent<'user.created'>['data']).userId;
      break;
    }
    case 'order.confirmed': {
      const d = data as CheckoutEvent<'order.confirmed'>['data'];
      fillTotal(d.amount, d.currency);
      fillPricedLines(d.lines);
      row.userId ??= d.userId;
      if (d.customerName) row.customerName ??= d.customerName;
      break;
    }
    case 'checkout.failed': {
      const d = data as CheckoutEvent<'checkout.failed'>['data'];
      row.failure ??= { code: d.code, message: d.message, step: d.step };
      break;
    }
    case 'payment.voided': {
      row.paymentIntentId ??= (data as CheckoutEvent<'payment.voided'>['data']).paymentIntentId;
      break;
    }
    case 'payment.refunded': {
      const d = data as CheckoutEvent<'payment.refunded'>['data'];
      fillTotal(d.orderAmount, d.currency);
      row.paymentIntentId ??= d.paymentIntentId;
      const refund: OrderHistoryRefund = {
        refundId: d.refundId,
        amount: d.amount,
        currency: d.currency.toUpperCase(),
        totalRefunded: d.totalRefunded,
        reason: d.reason ?? null,
        at: event.time,
        eventId: event.id,
        sequence,
      };
      row.refunds = mergeBySequence(row.refunds, refund);
      // Every refund event carries the running total: the newest one's is the order's.
      row.refundedMinor = row.refunds[row.refunds.length - 1]!.totalRefunded;
      break;
    }
    default:
      // stock.released and anything added later: recorded as seen (sequence), nothing to show.
      break;
  }

  const status = statusOf(event);
  if (status) {
    const entry: OrderHistoryStatusEntry = { status, at: event.time, eventId: event.id, sequence };
    row.statusHistory = mergeBySequence(row.statusHistory, entry);
    row.status = row.statusHistory[row.statusHistory.length - 1]!.status;
  }

  if (newest) {
    row.lastSequence = sequence;
    row.lastEventId = event.id;
    row.updatedAt = time;
  }
  if (time < row.placedAt) row.placedAt = time;
  return { row, outcome: newest ? 'applied' : 'late' };
}

/** The dispute's entry changed by `change`, created first if its other event has not arrived yet. */
function withDispute(
  list: OrderHistoryDispute[],
  disputeId: string,
  amount: number,
  currency: string,
  change: (entry: OrderHistoryDispute) => OrderHistoryDispute,
): OrderHistoryDispute[] {
  const existing = list.find((d) => d.disputeId === disputeId) ?? {
    disputeId,
    amount,
    currency: currency.toUpperCase(),
    reason: null,
    evidenceDueBy: null,
    outcome: null,
    openedAt: null,
    closedAt: null,
  };
  return [...list.filter((d) => d.disputeId !== disputeId), change(existing)].sort((a, b) => a.disputeId.localeCompare(b.disputeId));
}

/** Adds `entry` unless its event is already there, keeping the list in sequence order. */
function mergeBySequence<T extends { eventId: string; sequence: number }>(list: T[], entry: T): T[] {
  if (list.some((e) => e.eventId === entry.eventId)) return list;
  return [...list, entry].sort((a, b) => a.sequence - b.sequence || a.eventId.localeCompare(b.eventId));
}
