import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { afterMoneyMoved, publishEvent } from './activity-options';
import { refundedEvent, type SettledRefund } from './contract';

const books = proxyActivities<Activities>(afterMoneyMoved);
const kafka = proxyActivities<Activities>(publishEvent);

/**
 * What follows a recorded refund, for the service's own refunds and the ones Stripe told us about
 * alike: a fully refunded order puts its stock back, then `payment.refunded` goes out with the
 * ledger's sequence and time, so however often this runs the event is the same one.
 * Returns whether the order's stock is back on sale.
 */
export async function settleRefund(refund: SettledRefund): Promise<boolean> {
  let stockReturned = false;
  if (refund.orderStatus === 'REFUNDED') {
    const { outcome } = await books.returnRefundedStock({ orderId: refund.orderId });
    stockReturned = outcome !== 'nothing_to_return';
  }
  await kafka.publishEvent({ event: refundedEvent(refund), time: refund.settledAt });
  return stockReturned;
}
