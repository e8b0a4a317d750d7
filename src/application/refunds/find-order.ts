import { eq, or } from 'drizzle-orm';
import { orders } from '../../../db/schema';
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

/** An order's money as an operator reads it beside its checkout: what it came to and what is refunded. */
export type OrderSummary = Pick<OrderRow, 'id' | 'status' | 'amountMinor' | 'refundedMinor' | 'currency'>;

/** The checkout's order, once its stock was reserved; undefined before that. */
export async function orderOfCheckout(db: Database, checkoutId: string): Promise<OrderSummary | undefined> {
  const [order] = await db
    .select({ id: orders.id, status: orders.status, amountMinor: orders.amountMinor, refundedMinor: orders.refundedMinor, currency: orders.currency })
    .from(orders)
    .where(eq(orders.checkoutId, checkoutId));
  return order;
}
