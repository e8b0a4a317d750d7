import { and, eq, sql } from 'drizzle-orm';
import { checkouts, orders, payments, reservations } from '../../../db/schema';
import type { ActivityDeps } from '../deps';
import type { CheckoutStatus, CompensationState } from '../../workflows/checkout/contract';

export interface ConfirmOrderInput {
  checkoutId: string;
  orderId: string;
  paymentIntentId: string;
  amount: number;
  currency: string;
  /** Sequence number the order.confirmed event will carry; refund events continue after it. */
  eventSequence: number;
}

export interface CheckoutOutcomeInput {
  checkoutId: string;
  status: Extract<CheckoutStatus, 'FAILED' | 'CANCELLED' | 'NEEDS_ATTENTION'>;
  step: string | null;
  failure?: { code: string; message: string };
  compensations: CompensationState[];
  paymentIntentId?: string;
  paymentStatus?: string;
  lastEventSequence: number;
}

export function createOrderActivities({ db }: Pick<ActivityDeps, 'db'>) {
  return {
    /**
     * The last step: order CONFIRMED, reservation consumed and the capture recorded, atomically.
     * Returns when the order was confirmed, as first recorded: a retry answers the same time, which
     * order.confirmed carries.
     */
    async confirmOrder(input: ConfirmOrderInput): Promise<{ confirmedAt: string }> {
      return db.transaction(async (tx) => {
        const now = new Date();
        await tx
          .update(orders)
          .set({ status: 'CONFIRMED', confirmedAt: now, updatedAt: now, lastEventSequence: input.eventSequence })
          .where(and(eq(orders.id, input.orderId), eq(orders.status, 'PENDING')));
        await tx
          .update(reservations)
          .set({ status: 'CONSUMED' })
          .where(and(eq(reservations.checkoutId, input.checkoutId), eq(reservations.status, 'RESERVED')));
        await tx
          .insert(payments)
          .values({
            paymentIntentId: input.paymentIntentId,
            checkoutId: input.checkoutId,
            orderId: input.orderId,
            amountMinor: input.amount,
            currency: input.currency,
            status: 'succeeded',
            capturedMinor: input.amount,
          })
          .onConflictDoNothing();
        await tx
          .update(checkouts)
          .set({ status: 'COMPLETED', step: 'confirmOrder', paymentIntentId: input.paymentIntentId, paymentStatus: 'succeeded', updatedAt: now, endedAt: sql`coalesce(${checkouts.endedAt}, ${now.toISOString()}::timestamptz)` })
          .where(eq(checkouts.id, input.checkoutId));
        const [order] = await tx.select({ confirmedAt: orders.confirmedAt }).from(orders).where(eq(orders.id, input.orderId));
        return { confirmedAt: (order?.confirmedAt ?? now).toISOString() };
      });
    },

    /**
     * Writes how an unsuccessful checkout ended (and what its undo did) to PostgreSQL, so the status
     * stays answerable without a worker and ops can query NEEDS_ATTENTION rows directly.
     */
    async recordCheckoutOutcome(input: CheckoutOutcomeInput): Promise<{ recordedAt: string }> {
      return db.transaction(async (tx) => {
        const now = new Date();
        const ended = input.status !== 'NEEDS_ATTENTION';
        const [row] = await tx
          .update(checkouts)
          .set({
            ...(ended ? { endedAt: sql`coalesce(${checkouts.endedAt}, ${now.toISOString()}::timestamptz)` } : {}),
            status: input.status,
            step: input.step,
            failureCode: input.failure?.code ?? null,
            failureMessage: input.failure?.message ?? null,
            compensations: input.compensations,
            paymentIntentId: input.paymentIntentId ?? null,
            paymentStatus: input.paymentStatus ?? null,
            updatedAt: now,
          })
          .where(eq(checkouts.id, input.checkoutId))
          .returning({ endedAt: checkouts.endedAt });
        await tx
          .update(orders)
          .set({ status: input.status, updatedAt: now, lastEventSequence: input.lastEventSequence })
          .where(eq(orders.checkoutId, input.checkoutId));
        // The end as first recorded, so the final event is the same however often it is re-sent.
        return { recordedAt: (row?.endedAt ?? now).toISOString() };
      });
    },
  };
}
