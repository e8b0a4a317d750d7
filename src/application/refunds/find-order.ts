import { asc, eq, or } from 'drizzle-orm';
import { disputes, orders } from '../../../db/schema';
import type { Database } from '../../../db/client';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type OrderRow = typeof orders.$inferSelect;

/**
 * An operator holds whichever id the customer or the Web UI gave them: the order's or its
 * checkout's. Both are UUIDs and never collide, so one lookup answers either.
 */
export async function findOrder(db: Database, orderOrCheckoutId: string): Promise<OrderRow | undefined> {
  if (!UUID.test(orderOrCheckoutId)) return undefined;
  const id = orderOrCheckoutId.toLowerCase();
  const [order] = await db.select().from(orders).where(or(eq(orders.id, id), eq(orders.checkoutId, id)));
  return order;
}

/** A dispute of the order's payment, as the ledger last recorded it from Stripe. */
export interface OrderDispute {
  disputeId: string;
  amountMinor: number;
  currency: string;
  reason: string;
  /** Stripe's status: needs_response, under_review, won, lost, ... */
  status: string;
  outcome: 'won' | 'lost' | null;
  /** When the shop's evidence is due: what an operator must act before. */
  evidenceDueBy: string | null;
}

/** An order's money as an operator reads it beside its checkout: what it came to, what is refunded, what is disputed. */
export type OrderSummary = Pick<OrderRow, 'id' | 'status' | 'amountMinor' | 'refundedMinor' | 'disputeLostMinor' | 'currency'> & { disputes: OrderDispute[] };

/** The checkout's order, once its stock was reserved; undefined before that. */
export async function orderOfCheckout(db: Database, checkoutId: string): Promise<OrderSummary | undefined> {
  const [order] = await db
    .select({ id: orders.id, status: orders.status, amountMinor: orders.amountMinor, refundedMinor: orders.refundedMinor, disputeLostMinor: orders.disputeLostMinor, currency: orders.currency })
    .from(orders)
    .where(eq(orders.checkoutId, checkoutId));
  if (!order) return undefined;
  const rows = await db.select().from(disputes).where(eq(disputes.orderId, order.id)).orderBy(asc(disputes.openedAt));
  return {
    ...order,
    disputes: rows.map((d) => ({
      disputeId: d.id,
      amountMinor: d.amountMinor,
      currency: d.currency,
      reason: d.reason,
      status: d.status,
      outcome: d.outcome === 'won' || d.outcome === 'lost' ? d.outcome : null,
      evidenceDueBy: d.evidenceDueBy?.toISOString() ?? null,
    })),
  };
}
