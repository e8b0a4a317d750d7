import { ApplicationFailure, Context } from '@temporalio/activity';
import { and, eq, inArray } from 'drizzle-orm';
import Stripe from 'stripe';
import { payments, refunds } from '../../../db/schema';
import type { ActivityDeps } from '../deps';
import { sendAlongKeyChain } from '../stripe-key-chain';
import { externalRefundKey, refundIdempotencyKey, RefundFailureCode, type RefundSource } from '../../workflows/refund/contract';

export interface CreateStripeRefundInput {
  refundKey: string;
  orderId: string;
  checkoutId: string;
  paymentIntentId: string;
  amount: number;
  reason: string | null;
  source: Exclude<RefundSource, 'stripe'>;
}

export interface StripeRefundMade {
  stripeRefundId: string;
  amount: number;
  currency: string;
}

/** A Stripe refund the ledger has not recorded yet, with the key it will be recorded under. */
export interface UnrecordedRefund {
  refundKey: string;
  source: RefundSource;
  stripeRefundId: string;
  amount: number;
  currency: string;
  reason: string | null;
}

export interface UnrecordedRefunds {
  refunds: UnrecordedRefund[];
  /** Set when the payment is none of ours to reflect (no confirmed order holds it). */
  ignored?: string;
}

/** Stripe's own reason enum; anything else an operator typed travels in metadata only. */
const STRIPE_REASONS = new Set(['duplicate', 'fraudulent', 'requested_by_customer']);

/**
 * Stripe refusing a refund is final for this request (the amount is gone or the charge is disputed):
 * non-retryable with the reason an operator needs. 5xx, rate limits and network errors are rethrown
 * for Temporal to retry with the same idempotency key.
 */
function classifyRefundError(err: unknown): never {
  if (err instanceof Stripe.errors.StripeIdempotencyError) {
    throw ApplicationFailure.nonRetryable(err.message, RefundFailureCode.REFUND_KEY_CONFLICT);
  }
  if (err instanceof Stripe.errors.StripeInvalidRequestError && err.statusCode !== 409) {
    switch (err.code) {
      case 'charge_already_refunded':
        throw ApplicationFailure.nonRetryable(`Stripe: ${err.message}`, RefundFailureCode.NOTHING_TO_REFUND, { stripeCode: err.code });
      case 'amount_too_large':
        throw ApplicationFailure.nonRetryable(`Stripe: ${err.message}`, RefundFailureCode.OVER_REFUND, { stripeCode: err.code });
      default:
        throw ApplicationFailure.nonRetryable(`Stripe refused the refund: ${err.message}`, RefundFailureCode.REFUND_DECLINED, {
          stripeCode: err.code,
        });
    }
  }
  throw err;
}

export function createStripeRefundActivities({ stripe, db }: Pick<ActivityDeps, 'stripe' | 'db'>) {
  return {
    /**
     * The one call that moves the money back. The refund key travels in metadata, and the Stripe
     * refunds of the intent are listed first (lists are consistent, unlike search): a refund an
     * earlier attempt or run made (its answer lost, or a 500 Stripe saved for the key and replays to
     * every retry) is returned, never made again, which also holds after Stripe forgot the key (24 h).
     * Otherwise the refund is sent under the refund key's idempotency key, or the next key of its
     * chain once Stripe replayed an error for it and the list shows that request refunded nothing.
     * The webhook reflection files the refund under the same ledger row by its metadata.
     */
    async createStripeRefund(input: CreateStripeRefundInput): Promise<StripeRefundMade> {
      const made = (refund: Stripe.Refund): StripeRefundMade => ({ stripeRefundId: refund.id, amount: refund.amount, currency: refund.currency.toUpperCase() });
      const refundOfKey = async (): Promise<Stripe.Refund | undefined> => {
        for await (const refund of stripe.refunds.list({ payment_intent: input.paymentIntentId, limit: 100 })) {
          if (refund.metadata?.refundKey === input.refundKey && refund.status !== 'failed' && refund.status !== 'canceled') return refund;
        }
        return undefined;
      };
      try {
        const earlier = await refundOfKey();
        if (earlier) {
          Context.current().log.info('stripe refund already made', { refundKey: input.refundKey, stripeRefundId: earlier.id, amount: earlier.amount });
          return made(earlier);
        }
        const refund = await sendAlongKeyChain(
          refundIdempotencyKey(input.refundKey),
          (idempotencyKey) =>
            stripe.refunds.create(
              {
                payment_intent: input.paymentIntentId,
                amount: input.amount,
                ...(input.reason && STRIPE_REASONS.has(input.reason) ? { reason: input.reason as Stripe.RefundCreateParams.Reason } : {}),
                metadata: {
                  refundKey: input.refundKey,
                  orderId: input.orderId,
                  checkoutId: input.checkoutId,
                  source: input.source,
                  ...(input.reason ? { reason: input.reason.slice(0, 500) } : {}),
                },
              },
              { idempotencyKey },
            ),
          refundOfKey,
        );
        Context.current().log.info('stripe refund created', { refundKey: input.refundKey, stripeRefundId: refund.id, amount: refund.amount });
        return made(refund);
      } catch (err) {
        return classifyRefundError(err);
      }
    },

    /**
     * Read-only: the payment's succeeded Stripe refunds that the ledger has not recorded. A refund
     * made by this service carries its refund key in metadata and is filed under it; any other
     * (dashboard, bank, support tool) gets `stripe-<id>`.
     */
    async findUnrecordedRefunds(input: { paymentIntentId: string }): Promise<UnrecordedRefunds> {
      const [payment] = await db.select().from(payments).where(eq(payments.paymentIntentId, input.paymentIntentId));
      // A checkout that never completed refunds through its own saga; its order is not ours to touch.
      if (!payment) return { refunds: [], ignored: `payment ${input.paymentIntentId} belongs to no confirmed order` };

      const made: Stripe.Refund[] = [];
      for await (const refund of stripe.refunds.list({ payment_intent: input.paymentIntentId, limit: 100 })) {
        // Releasing an authorization nobody captured is recorded by Stripe as a refund without a
        // balance transaction: no money was taken, so it is no refund of the order's.
        if (refund.status === 'succeeded' && refund.balance_transaction !== null) made.push(refund);
      }
      if (made.length === 0) return { refunds: [] };
      const known = await db
        .select({ stripeRefundId: refunds.stripeRefundId })
        .from(refunds)
        .where(and(inArray(refunds.stripeRefundId, made.map((r) => r.id)), eq(refunds.status, 'SUCCEEDED')));
      const knownIds = new Set(known.map((k) => k.stripeRefundId));
      return {
        refunds: made
          .filter((r) => !knownIds.has(r.id))
          // Oldest first, so event sequences follow the order Stripe made the refunds in.
          .sort((a, b) => a.created - b.created || a.id.localeCompare(b.id))
          .map((r) => {
            const ownKey = r.metadata?.refundKey;
            const ownSource = r.metadata?.source === 'api' ? 'api' : 'cli';
            return {
              refundKey: ownKey || externalRefundKey(r.id),
              source: ownKey ? ownSource : 'stripe',
              stripeRefundId: r.id,
              amount: r.amount,
              currency: r.currency.toUpperCase(),
              reason: r.metadata?.reason || r.reason || null,
            } satisfies UnrecordedRefund;
          }),
      };
    },
  };
}
