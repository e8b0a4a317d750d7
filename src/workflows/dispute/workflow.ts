import { condition, log, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { afterMoneyMoved, paymentCall, publishEvent } from '../refund/activity-options';
import { disputeChangedSignal, type DisputeInput, type DisputeResult } from './contract';

const stripe = proxyActivities<Activities>(paymentCall);
const books = proxyActivities<Activities>(afterMoneyMoved);
const kafka = proxyActivities<Activities>(publishEvent);

/**
 * One per Stripe dispute (id `dispute-<dp_id>`), open for as long as the dispute is: days or weeks.
 * Each `charge.dispute.*` webhook wakes it; it then reads the dispute from Stripe (the truth, whatever
 * order the webhooks came in), records what changed in the ledger (the order DISPUTED while it is
 * open; a lost dispute's amount counted as returned) and announces it: `payment.disputed` once,
 * `payment.dispute_closed` once, each with the order's next sequence. It ends when Stripe decided.
 */
export async function DisputeWorkflow(input: DisputeInput): Promise<DisputeResult> {
  // Started by the first webhook, so there is news at once.
  let news = 1;
  const announced = new Set<string>();
  setHandler(disputeChangedSignal, () => {
    news += 1;
  });
  for (;;) {
    await condition(() => news > 0);
    news = 0;
    const dispute = await stripe.readDispute({ disputeId: input.disputeId });
    const recorded = await books.recordDispute(dispute);
    if (recorded.ignored) {
      log.info('dispute not reflected', { disputeId: input.disputeId, reason: recorded.ignored });
      return { outcome: dispute.outcome, ignored: recorded.ignored };
    }
    for (const announcement of recorded.announcements) {
      // The record returns every announcement so far; each goes out once per workflow.
      if (announced.has(announcement.event.id)) continue;
      await kafka.publishEvent(announcement);
      announced.add(announcement.event.id);
    }
    if (dispute.outcome) {
      log.info('dispute closed', { disputeId: input.disputeId, orderId: recorded.orderId, outcome: dispute.outcome });
      return { outcome: dispute.outcome };
    }
  }
}
