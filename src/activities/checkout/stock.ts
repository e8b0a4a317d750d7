import { ApplicationFailure } from '@temporalio/activity';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { checkouts, orderLines, orders, products, reservations } from '../../../db/schema';
import { returnOrderLinesToStock } from '../order-lines';
import type { ActivityDeps } from '../deps';
import { FailureCode, type CheckoutItem } from '../../workflows/checkout/contract';
import type { EventLine } from '../../events/contract';

export interface ReserveStockInput {
  checkoutId: string;
  orderId: string;
  workflowId: string;
  customer: { email: string; name?: string };
  items: CheckoutItem[];
}

export interface ReservedCart {
  amount: number;
  currency: string;
  lines: EventLine[];
}

export interface ReleaseStockResult {
  released: boolean;
  lines: { sku: string; quantity: number }[];
}

/** Duplicate SKUs in one cart become one line, so each product row is locked and decremented once. */
function mergeItems(items: CheckoutItem[]): CheckoutItem[] {
  const bySku = new Map<string, number>();
  for (const { sku, quantity } of items) bySku.set(sku, (bySku.get(sku) ?? 0) + quantity);
  return [...bySku].map(([sku, quantity]) => ({ sku, quantity })).sort((a, b) => a.sku.localeCompare(b.sku));
}

export function createStockActivities({ db }: Pick<ActivityDeps, 'db'>) {
  return {
    /**
     * Prices the cart from the catalog and reserves every line in one transaction. A conditional
     * decrement per line (in SKU order, so concurrent carts lock rows in the same order) makes an
     * oversell impossible; any short line rolls the whole reservation back.
     */
    async reserveStock(input: ReserveStockInput): Promise<ReservedCart> {
      return db.transaction(async (tx) => {
        const existing = await tx
          .select()
          .from(orderLines)
          .innerJoin(reservations, eq(reservations.orderId, orderLines.orderId))
          .where(eq(reservations.checkoutId, input.checkoutId));
        const order = await tx.select().from(orders).where(eq(orders.checkoutId, input.checkoutId));
        if (existing.length > 0 && order[0]) {
          // A retry after a commit whose answer was lost: return what was reserved, reserve nothing more.
          return { amount: order[0].amountMinor, currency: order[0].currency, lines: existing.map(({ order_lines: l }) => toEventLine(l)) };
        }

        const items = mergeItems(input.items);
        const catalog = await tx.select().from(products).where(inArray(products.sku, items.map((i) => i.sku)));
        const bySku = new Map(catalog.map((p) => [p.sku, p]));
        const unknown = items.filter((i) => !bySku.has(i.sku)).map((i) => i.sku);
        if (unknown.length > 0) {
          throw ApplicationFailure.nonRetryable(`Unknown product: ${unknown.join(', ')}`, FailureCode.UNKNOWN_SKU, { skus: unknown });
        }
        const currencies = new Set(catalog.map((p) => p.currency));
        if (currencies.size > 1) {
          throw ApplicationFailure.nonRetryable('The cart mixes currencies', FailureCode.INVALID_CART);
        }

        const lines: EventLine[] = [];
        for (const item of items) {
          const product = bySku.get(item.sku)!;
          const updated = await tx
            .update(products)
            .set({ stockAvailable: sql`${products.stockAvailable} - ${item.quantity}`, updatedAt: new Date() })
            .where(and(eq(products.sku, item.sku), sql`${products.stockAvailable} >= ${item.quantity}`))
            .returning({ sku: products.sku });
          if (updated.length === 0) {
            throw ApplicationFailure.nonRetryable(`Not enough stock for ${product.name} (${item.sku})`, FailureCode.OUT_OF_STOCK, {
              sku: item.sku,
            });
          }
          lines.push({
            sku: item.sku,
            name: product.name,
            quantity: item.quantity,
            unitPrice: product.priceMinor,
            lineTotal: product.priceMinor * item.quantity,
          });
        }
        const amount = lines.reduce((sum, l) => sum + l.lineTotal, 0);
        const currency = catalog[0]!.currency;

        // The row is the start use case's (src/application/checkouts/start.ts); this step only moves it on.
        await tx
          .update(checkouts)
          .set({ status: 'PROCESSING', step: 'reserveStock', amountMinor: amount, currency, updatedAt: new Date() })
          .where(eq(checkouts.id, input.checkoutId));
        await tx.insert(orders).values({
          id: input.orderId,
          checkoutId: input.checkoutId,
          customerEmail: input.customer.email,
          status: 'PENDING',
          amountMinor: amount,
          currency,
        });
        await tx.insert(orderLines).values(
          lines.map((l) => ({
            orderId: input.orderId,
            sku: l.sku,
            name: l.name,
            quantity: l.quantity,
            unitPriceMinor: l.unitPrice,
            lineTotalMinor: l.lineTotal,
          })),
        );
        await tx.insert(reservations).values({ checkoutId: input.checkoutId, orderId: input.orderId, status: 'RESERVED' });
        return { amount, currency, lines };
      });
    },

    /** Puts back exactly what this checkout reserved, once; nothing reserved or already released is a no-op. */
    async releaseStock(input: { checkoutId: string }): Promise<ReleaseStockResult> {
      return db.transaction(async (tx) => {
        const [reservation] = await tx
          .select()
          .from(reservations)
          .where(eq(reservations.checkoutId, input.checkoutId))
          .for('update');
        if (!reservation || reservation.status !== 'RESERVED') return { released: false, lines: [] };
        const lines = await returnOrderLinesToStock(tx, reservation.orderId);
        await tx
          .update(reservations)
          .set({ status: 'RELEASED', releasedAt: new Date() })
          .where(eq(reservations.checkoutId, input.checkoutId));
        return { released: true, lines };
      });
    },
  };
}

function toEventLine(l: typeof orderLines.$inferSelect): EventLine {
  return { sku: l.sku, name: l.name, quantity: l.quantity, unitPrice: l.unitPriceMinor, lineTotal: l.lineTotalMinor };
}
