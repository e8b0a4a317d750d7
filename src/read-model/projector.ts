import { eq } from 'drizzle-orm';
import { orderHistoryOrders, orderHistoryProcessedEvents } from '../../db/order-history-schema';
import { CHECKOUT_EVENT_TYPES } from '../events/contract';
import type { Database } from '../../db/client';
import type { EventHandler } from '../kafka/consumer/runtime';
import { project } from './projection';

/** The projector acts on every event type: each one is a step in an order's history. */
export const ORDER_HISTORY_EVENT_TYPES = CHECKOUT_EVENT_TYPES;

/**
 * The order-history projector's handler. One transaction per event: lock the order's row, record
 * the event id in processed_events (a redelivered id finds itself there and the transaction writes
 * nothing), then write the row `project()` computed. Dedupe and effect commit together, so a crash
 * at any point either did both or neither.
 */
export function createOrderHistoryProjector({ db }: { db: Database }): EventHandler {
  return async (event, ctx) =>
    db.transaction(async (tx) => {
      // Serialises events of one order even across two projector instances during a rebalance.
      const [current] = await tx.select().from(orderHistoryOrders).where(eq(orderHistoryOrders.orderId, event.data.orderId)).for('update');
      const { row, outcome } = project(current, event);
      const claimed = await tx
        .insert(orderHistoryProcessedEvents)
        .values({
          eventId: event.id,
          eventType: event.type,
          orderId: event.data.orderId,
          sequence: event.data.sequence,
          outcome,
          kafkaPartition: ctx.partition,
          kafkaOffset: ctx.offset,
        })
        .onConflictDoNothing()
        .returning({ eventId: orderHistoryProcessedEvents.eventId });
      if (claimed.length === 0) return 'duplicate';

      const now = new Date();
      if (current) {
        await tx.update(orderHistoryOrders).set({ ...row, projectedAt: now }).where(eq(orderHistoryOrders.orderId, row.orderId));
      } else {
        // A concurrent first insert of the same order fails on the key and is retried as transient.
        await tx.insert(orderHistoryOrders).values({ ...row, projectedAt: now });
      }
      return outcome;
    });
}
