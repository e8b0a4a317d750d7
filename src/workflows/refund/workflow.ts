import { ActivityFailure, ApplicationFailure, log, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { searchAttributes } from '../checkout/contract';
import { afterMoneyMoved, databaseWrite, paymentCall } from './activity-options';
import { RefundFailureCode, type RefundInput, type RefundResult, type SettledRefund } from './contract';
import { settleRefund } from './settle';

const ledger = proxyActivities<Activities>(databaseWrite);
const stripe = proxyActivities<Activities>(paymentCall);
const books = proxyActivities<Activities>(afterMoneyMoved);

/**
 * One refund request (workflow id `refund-<refundKey>`): claim the amount on the order, refund it
 * on Stripe, record it, put the stock back if the order is now fully refunded, publish
 * `payment.refunded`. Refunds of one order are serialised by the claim, which locks the order row
 * and counts other requests' pending claims before any money moves (see README, "Operations").
 * A refusal (unknown order, nothing left, over-refund) fails the workflow with its code as the type.
 */
export async function RefundWorkflow(input: RefundInput): Promise<RefundResult> {
  const claim = await asRefusal(() => ledger.claimRefund(input));
  // Lets ops find a customer's refunds beside their checkouts in the Web UI: the same keyed hash, never
  // the address (a claim recorded before the hash existed carries only the address).
  const customerEmail = claim.customerEmailHash ?? (claim.kind === 'settled' ? claim.refund.customerEmail : claim.customerEmail);
  upsertSearchAttributes([{ key: searchAttributes.customerEmail, value: customerEmail }]);

  let refund: SettledRefund;
  if (claim.kind === 'settled') {
    refund = claim.refund;
  } else {
    const made = await asRefusal(async () => {
      try {
        return await stripe.createStripeRefund({
          refundKey: claim.refundKey,
          orderId: claim.orderId,
          checkoutId: claim.checkoutId,
          paymentIntentId: claim.paymentIntentId,
          amount: claim.amount,
          reason: claim.reason,
          source: input.source,
        });
      } catch (err) {
        // Only a refusal by Stripe frees the claim. After exhausted retries Stripe may still have
        // refunded, so the claim keeps holding the amount until a re-run with the same key (same
        // Stripe idempotency key) or the charge.refunded webhook settles it.
        const refusal = refusalOf(err);
        if (refusal) await ledger.releaseRefundClaim({ refundKey: claim.refundKey, reason: refusal.message });
        throw err;
      }
    });
    refund = await asRefusal(() =>
      books.recordRefund({
        refundKey: claim.refundKey,
        paymentIntentId: claim.paymentIntentId,
        stripeRefundId: made.stripeRefundId,
        amount: made.amount,
        currency: made.currency,
        reason: claim.reason,
        source: input.source,
      }),
    );
  }

  const stockReturned = await settleRefund(refund);
  log.info('refund settled', {
    orderId: refund.orderId,
    checkoutId: refund.checkoutId,
    refundKey: refund.refundKey,
    amount: refund.amount,
    totalRefunded: refund.totalRefunded,
    orderStatus: refund.orderStatus,
  });
  return { ...refund, requested: { amount: input.amount ?? null, reason: input.reason ?? null }, stockReturned };
}

/** The business refusal inside an activity failure, if that is what it is. */
function refusalOf(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type && (Object.values(RefundFailureCode) as string[]).includes(cause.type)
    ? cause
    : undefined;
}

/**
 * Re-raises an activity's refusal as the workflow's own failure with the same type and message, so
 * the CLI and the Web UI show "OVER_REFUND: ..." rather than "activity task failed".
 */
async function asRefusal<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const refusal = refusalOf(err);
    if (!refusal) throw err;
    throw ApplicationFailure.create({
      message: refusal.message,
      type: refusal.type ?? RefundFailureCode.REFUND_DECLINED,
      nonRetryable: true,
      details: refusal.details ?? [],
    });
  }
}
