import { Context } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import type Stripe from 'stripe';
import { disputes, orders, payments } from '../../../db/schema';
import { OrderEvents, outcomeEventId, recordedEvent, type EventSubject } from '../../events/outcome-events';
import type { ActivityDeps } from '../deps';
import { disputeWorkflowId, type DisputeFacts, type RecordedDispute } from '../../workflows/dispute/contract';

type DisputeRow = typeof disputes.$inferSelect;
type OrderRow = typeof orders.$inferSelect;

/** Stripe's decided statuses; an inquiry closed without a chargeback (`warning_closed`) costs the shop nothing. */
const OUTCOME_OF: Record<string, 'won' | 'lost'> = { won: 'won', lost: 'lost', warning_closed: 'won' };

export function createDisputeActivities({ db, stripe }: Pick<ActivityDeps, 'db' | 'stripe'>) {
  return {
    /** Read-only: the dispute as Stripe describes it now, whatever order its webhooks arrived in. */
    async readDispute(input: { disputeId: string }): Promise<DisputeFacts> {
      const dispute = await stripe.disputes.retrieve(input.disputeId);
      const idOf = (value: string | { id: string } | null) => (value === null ? null : typeof value === 'string' ? value : value.id);
      const dueBy = dispute.evidence_details?.due_by;
      return {
        disputeId: dispute.id,
        chargeId: idOf(dispute.charge as string | Stripe.Charge)!,
        paymentIntentId: idOf(dispute.payment_intent as string | Stripe.PaymentIntent | null),
        amount: dispute.amount,
        currency: dispute.currency.toUpperCase(),
        reason: dispute.reason,
        status: dispute.status,
        evidenceDueBy: dueBy ? new Date(dueBy * 1000).toISOString() : null,
        outcome: OUTCOME_OF[dispute.status] ?? null,
      };
    },

    /**
     * Reflects a dispute on its order, in one transaction under the order's row lock (the lock every
     * refund takes too). Opened: the order is DISPUTED and `payment.disputed` gets the order's next
     * sequence. Decided: a lost dispute's amount counts as returned (dispute_lost_minor), the order's
     * status follows its money again, and `payment.dispute_closed` gets the next sequence. Returns the
     * announcements the dispute has had so far, rebuilt from the row, so a retried activity or a
     * re-run workflow announces exactly the same events.
     */
    async recordDispute(facts: DisputeFacts): Promise<RecordedDispute> {
      if (!facts.paymentIntentId) return { ignored: `dispute ${facts.disputeId} has no payment intent`, announcements: [] };
      return db.transaction(async (tx) => {
        const [payment] = await tx.select().from(payments).where(eq(payments.paymentIntentId, facts.paymentIntentId!));
        // A checkout that never completed undoes its own payment; its intent is no order's.
        if (!payment) return { ignored: `payment ${facts.paymentIntentId} belongs to no confirmed order`, announcements: [] };
        const [order] = await tx.select().from(orders).where(eq(orders.id, payment.orderId)).for('update');
        if (!order) return { ignored: `order ${payment.orderId} of payment ${facts.paymentIntentId} is gone`, announcements: [] };
        const subject: EventSubject = { orderId: order.id, checkoutId: order.checkoutId, customerEmail: order.customerEmail };
        const events = new OrderEvents(subject, order.lastEventSequence);
        const now = new Date();

        let [row] = await tx.select().from(disputes).where(eq(disputes.id, facts.disputeId)).for('update');
        if (!row) {
          const opened = events.next('payment.disputed', disputedEventId(facts.disputeId), openedFields(facts));
          [row] = await tx
            .insert(disputes)
            .values({
              id: facts.disputeId,
              orderId: order.id,
              paymentIntentId: facts.paymentIntentId!,
              chargeId: facts.chargeId,
              amountMinor: facts.amount,
              currency: facts.currency,
              reason: facts.reason,
              status: facts.status,
              evidenceDueBy: facts.evidenceDueBy ? new Date(facts.evidenceDueBy) : null,
              openedSequence: opened.data.sequence,
              openedAt: now,
            })
            .returning();
          await tx.update(orders).set({ status: 'DISPUTED', lastEventSequence: events.last, updatedAt: now }).where(eq(orders.id, order.id));
          order.status = 'DISPUTED';
          order.lastEventSequence = events.last;
          Context.current().log.info('dispute opened', { orderId: order.id, checkoutId: order.checkoutId, disputeId: facts.disputeId, amount: facts.amount, reason: facts.reason });
        } else if (row.status !== facts.status) {
          [row] = await tx.update(disputes).set({ status: facts.status, updatedAt: now }).where(eq(disputes.id, facts.disputeId)).returning();
        }

        if (facts.outcome && !row!.outcome) {
          const lost = facts.outcome === 'lost' ? row!.amountMinor : 0;
          const returned = order.refundedMinor + order.disputeLostMinor + lost;
          const closed = events.next('payment.dispute_closed', closedEventId(facts.disputeId), closedFields(row!, facts.outcome, returned, order.amountMinor));
          [row] = await tx
            .update(disputes)
            .set({ status: facts.status, outcome: facts.outcome, closedSequence: closed.data.sequence, returnedAtClose: returned, closedAt: now, updatedAt: now })
            .where(eq(disputes.id, facts.disputeId))
            .returning();
          await tx
            .update(orders)
            .set({ disputeLostMinor: order.disputeLostMinor + lost, status: statusAfterDispute(order, returned), lastEventSequence: events.last, updatedAt: now })
            .where(eq(orders.id, order.id));
          Context.current().log.info('dispute closed', { orderId: order.id, checkoutId: order.checkoutId, disputeId: facts.disputeId, outcome: facts.outcome, returned });
        }
        return { orderId: order.id, announcements: announcementsOf(row!, subject, order.amountMinor) };
      });
    },
  };
}

const disputedEventId = (disputeId: string) => outcomeEventId(disputeWorkflowId(disputeId), 'payment.disputed');
const closedEventId = (disputeId: string) => outcomeEventId(disputeWorkflowId(disputeId), 'payment.dispute_closed');

function openedFields(facts: Pick<DisputeFacts, 'paymentIntentId' | 'disputeId' | 'amount' | 'currency' | 'reason' | 'evidenceDueBy'>) {
  return {
    paymentIntentId: facts.paymentIntentId!,
    disputeId: facts.disputeId,
    amount: facts.amount,
    currency: facts.currency,
    reason: facts.reason,
    evidenceDueBy: facts.evidenceDueBy,
  };
}

function closedFields(row: DisputeRow, outcome: 'won' | 'lost', returned: number, orderAmount: number) {
  return { paymentIntentId: row.paymentIntentId, disputeId: row.id, amount: row.amountMinor, currency: row.currency, outcome, totalReturned: returned, orderAmount };
}

/** Every announcement the dispute has had, as first made: same ids, sequences, data and times. */
function announcementsOf(row: DisputeRow, subject: EventSubject, orderAmount: number): RecordedDispute['announcements'] {
  const evidenceDueBy = row.evidenceDueBy?.toISOString() ?? null;
  const opened = recordedEvent(subject, row.openedSequence, 'payment.disputed', disputedEventId(row.id), openedFields({ ...row, disputeId: row.id, amount: row.amountMinor, evidenceDueBy }));
  const announcements: RecordedDispute['announcements'] = [{ event: opened, time: row.openedAt.toISOString() }];
  if (row.outcome && row.closedSequence !== null && row.returnedAtClose !== null && row.closedAt) {
    const outcome = row.outcome === 'lost' ? 'lost' : 'won';
    const closed = recordedEvent(subject, row.closedSequence, 'payment.dispute_closed', closedEventId(row.id), closedFields(row, outcome, row.returnedAtClose, orderAmount));
    announcements.push({ event: closed, time: row.closedAt.toISOString() });
  }
  return announcements;
}

/** Once the dispute is decided the order's status follows its money again: returned in full, in part, or not at all. */
function statusAfterDispute(order: OrderRow, returned: number): string {
  if (returned >= order.amountMinor) return 'REFUNDED';
  return returned > 0 ? 'PARTIALLY_REFUNDED' : 'CONFIRMED';
}
