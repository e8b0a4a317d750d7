import { eq, sql } from 'drizzle-orm';
import { orderLines, products } from '../../db/schema';
import type { Database } from '../../db/client';

export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

/**
 * Puts an order's lines back on sale inside the caller's transaction, in SKU order like every
 * reservation, so a release or a return and a concurrent checkout lock product rows alike.
 * The caller guards with the reservation's status, which is what makes this happen once.
 */
export async function returnOrderLinesToStock(tx: Transaction, orderId: string): Promise<{ sku: string; quantity: number }[]> {
  const lines = await tx.select().from(orderLines).where(eq(orderLines.orderId, orderId));
  for (const line of [...lines].sort((a, b) => a.sku.localeCompare(b.sku))) {
    await tx
      .update(products)
      .set({ stockAvailable: sql`${products.stockAvailable} + ${line.quantity}`, updatedAt: new Date() })
      .where(eq(products.sku, line.sku));
  }
  return lines.map((l) => ({ sku: l.sku, quantity: l.quantity }));
}
