import { Context } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import { reservations } from '../../../db/schema';
import { returnOrderLinesToStock } from '../order-lines';
import type { ActivityDeps } from '../deps';

export interface ReturnStockResult {
  /** `returned` now, `already_returned` by an earlier run, `nothing_to_return` when no consumed stock exists. */
  outcome: 'returned' | 'already_returned' | 'nothing_to_return';
  lines: { sku: string; quantity: number }[];
}

export function createRefundStockActivities({ db }: Pick<ActivityDeps, 'db'>) {
  return {
    /**
     * A fully refunded order puts its goods back on sale, exactly once: the reservation moves
     * CONSUMED -> RETURNED in the same transaction as the stock increments, under its row lock.
     */
    async returnRefundedStock(input: { orderId: string }): Promise<ReturnStockResult> {
      return db.transaction(async (tx) => {
        const [reservation] = await tx.select().from(reservations).where(eq(reservations.orderId, input.orderId)).for('update');
        if (reservation?.status === 'RETURNED') return { outcome: 'already_returned', lines: [] };
        if (reservation?.status !== 'CONSUMED') return { outcome: 'nothing_to_return', lines: [] };
        const returned = await returnOrderLinesToStock(tx, input.orderId);
        await tx
          .update(reservations)
          .set({ status: 'RETURNED', releasedAt: new Date() })
          .where(eq(reservations.checkoutId, reservation.checkoutId));
        Context.current().log.info('refunded stock returned', { orderId: input.orderId, lines: returned });
        return { outcome: 'returned', lines: returned };
      });
    },
  };
}
