import { ApplicationFailure, Context } from '@temporalio/activity';
import { and, eq, ne, sql } from 'drizzle-orm';
import { orders, payments, refunds } from '../../../db/schema';
import type { Database } from '../../../db/client';
import type { ActivityDeps } from '../deps';
import { OrderEvents } from '../../events/outcome-events';
import { formatMoney } from '../../money';
import {
  REFUNDABLE_ORDER_STATUSES,
  RefundFailureCode,
  refundedEventFields,
  refundEventId,
  type RefundInput,
  type RefundSource,
  type SettledRefund,
} from '../../workflows/refund/contract';

type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];
type OrderRow = typeof orders.$inferSelect;
type RefundRow = typeof refunds.$inferSelect;

/** The amount a refund request holds on the order while Stripe is asked. */
export interface RefundClaimed {
  kind: 'claimed';
  refundKey: string;
  orderId: string;
  checkoutId: string;
  customerEmail: string;
  /** What the refund's CustomerEmail search attribute holds. Absent in histories recorded before it existed. */
  customerEmailHash?: string;
  paymentIntentId: string;
  amount: number;
  currency: string;
  reason: string | null;
}

/** The request was settled before (a re-run of the same key): nothing left to do but the tail. */
export interface RefundAlreadySettled {
  kind: 'settled';
  refund: SettledRefund;
  /** As in RefundClaimed. */
  customerEmailHash?: string;
}

export type RefundClaim = RefundClaimed | RefundAlreadySettled;

export interface RecordRefundInput {
  refundKey: string;
  paymentIntentId: string;
  stripeRefundId: string;
  amount: number;
  currency: string;
  reason: string | null;
  source: RefundSource;
}

const refuse = (code: RefundFailureCode, message: string, details?: Record<string, unknown>): never => {
  throw ApplicationFailure.nonRetryable(message, code, ...(details ? [details] : []));
};

/**
 * The refund ledger: the refunds table is the claim, the record and the source of a refund's
 * `payment.refunded` event. Every write locks the order row first, which is what serialises refunds
 * of one order (see RefundWorkflow); concurrent refunds of different orders never wait for each other.
 */
export function createRefundLedgerActivities({ db, customerEmailHash }: Pick<ActivityDeps, 'db' | 'customerEmailHash'>) {
  return {
    /**
     * Validates a refund request against the order and claims its amount (a PENDING row) in one
     * transaction, before any money moves. A claim counts against what is left to refund, so two
     * requests racing for the same order cannot both pass this check with more than the order holds.
     */
    async claimRefund(input: RefundInput): Promise<RefundClaim> {
      if (input.amount !== undefined && (!Number.isInteger(input.amount) || input.amount <= 0)) {
        refuse(RefundFailureCode.INVALID_AMOUNT, `A refund amount must be a positive whole number of minor units, not ${input.amount}`);
      }
      return db.transaction(async (tx) => {
        const order = await lockOrder(tx, input.orderId);
        if (!order) return refuse(RefundFailureCode.UNKNOWN_ORDER, `There is no order ${input.orderId}`);

        const [existing] = await tx.select().from(refunds).where(eq(refunds.refundKey, input.refundKey)).for('update');
        if (existing) {
          if (existing.orderId !== order.id) {
            refuse(RefundFailureCode.REFUND_KEY_CONFLICT, `Refund key ${input.refundKey} was already used for order ${existing.orderId}`);
          }
          if (existing.status !== 'FAILED' && input.amount !== undefined && input.amount !== existing.amountMinor) {
            refuse(
              RefundFailureCode.REFUND_KEY_CONFLICT,
              `Refund key ${input.refundKey} was already used for ${formatMoney(existing.amountMinor, existing.currency)}, not ${formatMoney(input.amount, existing.currency)}`,
            );
          }
          if (existing.status === 'SUCCEEDED') return { kind: 'settled', refund: toSettled(existing, order), customerEmailHash: customerEmailHash(order.customerEmail) };
          // Our own claim from an earlier run that stopped before Stripe answered: carry on with it.
          if (existing.status === 'PENDING') return claimed(existing, order, customerEmailHash);
        }

        if (order.status === 'REFUNDED') {
          refuse(RefundFailureCode.NOTHING_TO_REFUND, `Order ${order.id} is already fully refunded (${formatMoney(order.amountMinor, order.currency)})`);
        }
        if (order.status === 'DISPUTED') {
          refuse(RefundFailureCode.ORDER_NOT_REFUNDABLE, `Order ${order.id} has an open dispute: Stripe refuses refunds of a disputed charge until the dispute is decided`, {
            orderStatus: order.status,
          });
        }
        if (order.disputeLostMinor > 0) {
          // Stripe answers `charge_disputed` for a charge that was charged back, whatever is left on it.
          refuse(
            RefundFailureCode.ORDER_NOT_REFUNDABLE,
            `Order ${order.id} lost a dispute (${formatMoney(order.disputeLostMinor, order.currency)} charged back): Stripe refuses refunds of a charged-back charge`,
            { orderStatus: order.status },
          );
        }
        if (!(REFUNDABLE_ORDER_STATUSES as readonly string[]).includes(order.status)) {
          refuse(RefundFailureCode.ORDER_NOT_REFUNDABLE, `Order ${order.id} is ${order.status}; only a confirmed order can be refunded`, {
            orderStatus: order.status,
          });
        }
        const [payment] = await tx.select().from(payments).where(eq(payments.orderId, order.id));
        if (!payment) return refuse(RefundFailureCode.ORDER_NOT_REFUNDABLE, `Order ${order.id} has no captured payment`);

        const [held] = await tx
          .select({ minor: sql<number>`coalesce(sum(${refunds.amountMinor}), 0)::int` })
          .from(refunds)
          .where(and(eq(refunds.orderId, order.id), eq(refunds.status, 'PENDING'), ne(refunds.refundKey, input.refundKey)));
        const pending = held?.minor ?? 0;
        // Money the buyer got back through a lost dispute is returned too: no refund may give it twice.
        const remaining = order.amountMinor - order.refundedMinor - order.disputeLostMinor - pending;
        if (remaining <= 0) {
          refuse(
            RefundFailureCode.NOTHING_TO_REFUND,
            pending > 0
              ? `Nothing left to refund on order ${order.id}: ${formatMoney(pending, order.currency)} is being refunded by another request`
              : `Nothing left to refund on order ${order.id}`,
          );
        }
        const amount = input.amount ?? remaining;
        if (amount > remaining) {
          refuse(
            RefundFailureCode.OVER_REFUND,
            `Refund of ${formatMoney(amount, order.currency)} exceeds the ${formatMoney(remaining, order.currency)} left to refund on order ${order.id}` +
              (pending > 0 ? ` (${formatMoney(pending, order.currency)} is being refunded by another request)` : ''),
            { requested: amount, remaining, currency: order.currency },
          );
        }

        const claim = {
          orderId: order.id,
          paymentIntentId: payment.paymentIntentId,
          amountMinor: amount,
          currency: order.currency,
          reason: input.reason ?? null,
          source: input.source,
          status: 'PENDING',
          failureReason: null,
        };
        const [row] = await tx
          .insert(refunds)
          .values({ refundKey: input.refundKey, ...claim })
          .onConflictDoUpdate({ target: refunds.refundKey, set: claim })
          .returning();
        Context.current().log.info('refund claimed', {
          orderId: order.id,
          checkoutId: order.checkoutId,
          refundKey: input.refundKey,
          amount,
          currency: order.currency,
          requestedBy: input.requestedBy,
        });
        return claimed(row!, order, customerEmailHash);
      });
    },

    /** Stripe refused the refund: the claim no longer holds any amount. Idempotent; a settled refund is left alone. */
    async releaseRefundClaim(input: { refundKey: string; reason: string }): Promise<void> {
      await db
        .update(refunds)
        .set({ status: 'FAILED', failureReason: input.reason })
        .where(and(eq(refunds.refundKey, input.refundKey), eq(refunds.status, 'PENDING')));
    },

    /**
     * Records a refund Stripe made: refund row SUCCEEDED, order and payment totals, order status and
     * the next event sequence, in one transaction. Idempotent by refund key and by Stripe refund id,
     * so the request's own workflow and the webhook reflection can both record it and agree.
     */
    async recordRefund(input: RecordRefundInput): Promise<SettledRefund> {
      return db.transaction(async (tx) => {
        const [payment] = await tx.select().from(payments).where(eq(payments.paymentIntentId, input.paymentIntentId));
        if (!payment) {
          return refuse(RefundFailureCode.UNKNOWN_ORDER, `Payment ${input.paymentIntentId} belongs to no confirmed order`);
        }
        const order = (await lockOrder(tx, payment.orderId))!;
        const [byStripeId] = await tx.select().from(refunds).where(eq(refunds.stripeRefundId, input.stripeRefundId));
        if (byStripeId?.status === 'SUCCEEDED') return toSettled(byStripeId, order);
        const [byKey] = await tx.select().from(refunds).where(eq(refunds.refundKey, input.refundKey)).for('update');
        if (byKey?.status === 'SUCCEEDED') return toSettled(byKey, order);

        const refundedTotal = order.refundedMinor + input.amount;
        if (refundedTotal + order.disputeLostMinor > order.amountMinor) {
          // Stripe refunds at most what it charged, so this means the ledger and Stripe disagree on the
          // order; recording it would break the books, retrying cannot help: a person must look.
          refuse(
            RefundFailureCode.LEDGER_MISMATCH,
            `Stripe refund ${input.stripeRefundId} of ${formatMoney(input.amount, input.currency)} takes order ${order.id} past its total`,
            { refundedBefore: order.refundedMinor, orderAmount: order.amountMinor },
          );
        }
        const fully = refundedTotal + order.disputeLostMinor === order.amountMinor;
        // Numbered by the same builder the saga numbers its events with, after the order's last one.
        const announced = new OrderEvents({ orderId: order.id, checkoutId: order.checkoutId, customerEmail: order.customerEmail }, order.lastEventSequence).next(
          'payment.refunded',
          refundEventId(input.refundKey),
          refundedEventFields({ ...input, totalRefunded: refundedTotal, orderAmount: order.amountMinor }),
        );
        const sequence = announced.data.sequence;
        const now = new Date();
        await tx
          .update(orders)
          .set({ refundedMinor: refundedTotal, status: fully ? 'REFUNDED' : 'PARTIALLY_REFUNDED', lastEventSequence: sequence, updatedAt: now })
          .where(eq(orders.id, order.id));
        await tx
          .update(payments)
          .set({
            refundedMinor: sql`${payments.refundedMinor} + ${input.amount}`,
            status: fully ? 'refunded' : 'partially_refunded',
            updatedAt: now,
          })
          .where(eq(payments.paymentIntentId, input.paymentIntentId));
        const settled = {
          orderId: order.id,
          paymentIntentId: input.paymentIntentId,
          stripeRefundId: input.stripeRefundId,
          amountMinor: input.amount,
          currency: input.currency,
          status: 'SUCCEEDED',
          eventSequence: sequence,
          refundedTotalMinor: refundedTotal,
          failureReason: null,
          settledAt: now,
        };
        const [row] = await tx
          .insert(refunds)
          .values({ refundKey: input.refundKey, reason: input.reason, source: input.source, ...settled })
          .onConflictDoUpdate({ target: refunds.refundKey, set: settled })
          .returning();
        Context.current().log.info('refund recorded', {
          orderId: order.id,
          checkoutId: order.checkoutId,
          refundKey: input.refundKey,
          stripeRefundId: input.stripeRefundId,
          amount: input.amount,
          refundedTotal,
          source: row!.source,
        });
        return toSettled(row!, { ...order, refundedMinor: refundedTotal });
      });
    },
  };
}

/** Every ledger write takes the order's row lock first: the one place refunds of an order queue up. */
async function lockOrder(tx: Tx, orderId: string): Promise<OrderRow | undefined> {
  const [order] = await tx.select().from(orders).where(eq(orders.id, orderId)).for('update');
  return order;
}

function claimed(row: RefundRow, order: OrderRow, customerEmailHash: ActivityDeps['customerEmailHash']): RefundClaimed {
  return {
    kind: 'claimed',
    refundKey: row.refundKey,
    orderId: order.id,
    checkoutId: order.checkoutId,
    customerEmail: order.customerEmail,
    customerEmailHash: customerEmailHash(order.customerEmail),
    paymentIntentId: row.paymentIntentId,
    amount: row.amountMinor,
    currency: row.currency,
    reason: row.reason,
  };
}

/** A settled refund exactly as first recorded, so every re-send of its event carries the same data. */
function toSettled(row: RefundRow, order: OrderRow): SettledRefund {
  const totalRefunded = row.refundedTotalMinor ?? order.refundedMinor;
  return {
    refundKey: row.refundKey,
    orderId: order.id,
    checkoutId: order.checkoutId,
    customerEmail: order.customerEmail,
    paymentIntentId: row.paymentIntentId,
    stripeRefundId: row.stripeRefundId!,
    amount: row.amountMinor,
    currency: row.currency,
    reason: row.reason,
    source: row.source as RefundSource,
    totalRefunded,
    orderAmount: order.amountMinor,
    orderStatus: totalRefunded === order.amountMinor ? 'REFUNDED' : 'PARTIALLY_REFUNDED',
    eventSequence: row.eventSequence!,
    settledAt: (row.settledAt ?? row.createdAt).toISOString(),
  };
}
