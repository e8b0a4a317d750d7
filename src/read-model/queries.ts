import { desc, sql } from 'drizzle-orm';
import { orderHistoryOrders, type OrderHistoryFailure, type OrderHistoryLine } from '../../db/order-history-schema';
import type { Database } from '../../db/client';

/** An order as `GET /api/me/orders` shows it: read from the read model only, never from the saga's tables. */
export interface OrderHistoryView {
  orderId: string;
  checkoutId: string;
  status: string;
  placedAt: string;
  updatedAt: string;
  /** Minor units of `currency`; null while the cart has not been priced (e.g. it failed before). */
  amount: number | null;
  currency: string | null;
  refundedAmount: number;
  lines: OrderHistoryLine[];
  refunds: Array<{ refundId: string; amount: number; currency: string; reason: string | null; at: string }>;
  /** The buyer's bank disputes of the payment: what is disputed, why, and how it ended (the shop's evidence deadline is for operators). */
  disputes: Array<{ amount: number; currency: string; reason: string | null; outcome: 'won' | 'lost' | null; openedAt: string | null; closedAt: string | null }>;
  statusHistory: Array<{ status: string; at: string }>;
  failure: OrderHistoryFailure | null;
}

/** Newest first. The email comes from the verified access token, so a customer sees only their own. */
export async function ordersOfCustomer(db: Database, email: string, limit = 50): Promise<OrderHistoryView[]> {
  const rows = await db
    .select()
    .from(orderHistoryOrders)
    .where(sql`lower(${orderHistoryOrders.customerEmail}) = lower(${email})`)
    .orderBy(desc(orderHistoryOrders.placedAt))
    .limit(limit);
  return rows.map((r) => ({
    orderId: r.orderId,
    checkoutId: r.checkoutId,
    status: r.status,
    placedAt: r.placedAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    amount: r.amountMinor,
    currency: r.currency,
    refundedAmount: r.refundedMinor,
    lines: r.lines,
    refunds: r.refunds.map(({ refundId, amount, currency, reason, at }) => ({ refundId, amount, currency, reason, at })),
    disputes: r.disputes.map(({ amount, currency, reason, outcome, openedAt, closedAt }) => ({ amount, currency, reason, outcome, openedAt, closedAt })),
    statusHistory: r.statusHistory.map(({ status, at }) => ({ status, at })),
    failure: r.failure,
  }));
}
