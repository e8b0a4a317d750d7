import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { afterMoneyMoved, paymentCall } from './activity-options';
import type { ExternalRefundInput, ExternalRefundResult, SettledRefund } from './contract';
import { settleRefund } from './settle';

const stripe = proxyActivities<Activities>(paymentCall);
const books = proxyActivities<Activities>(afterMoneyMoved);

/**
 * Reflects a `charge.refunded` webhook: every succeeded Stripe refund on the payment that the
 * ledger does not hold yet (one made in the Stripe dashboard, or ours whose record is still in
 * flight) is recorded, moves the order to PARTIALLY_REFUNDED or REFUNDED, and is announced with
 * `payment.refunded`. The ledger dedupes by Stripe refund id, so a redelivered or a late webhook
 * records nothing twice.
 */
export async function ExternalRefundWorkflow(input: ExternalRefundInput): Promise<ExternalRefundResult> {
  const found = await stripe.findUnrecordedRefunds({ paymentIntentId: input.paymentIntentId });
  if (found.ignored) {
    log.info('charge.refunded not reflected', { paymentIntentId: input.paymentIntentId, reason: found.ignored });
    return { recorded: [], ignored: found.ignored };
  }
  const recorded: SettledRefund[] = [];
  for (const refund of found.refunds) {
    const settled = await books.recordRefund({ ...refund, paymentIntentId: input.paymentIntentId });
    await settleRefund(settled);
    recorded.push(settled);
    log.info('external refund reflected', {
      orderId: settled.orderId,
      checkoutId: settled.checkoutId,
      stripeRefundId: settled.stripeRefundId,
      amount: settled.amount,
      orderStatus: settled.orderStatus,
    });
  }
  return { recorded };
}
