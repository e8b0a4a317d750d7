import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type Stripe from 'stripe';
import type { Logger } from '../../logger';
import { DISPUTE_WORKFLOW_TYPE, disputeChangedSignal, disputeWorkflowId } from '../../workflows/dispute/contract';
import type { DisputeWorkflow } from '../../workflows/dispute/workflow';
import type { ExternalRefundWorkflow } from '../../workflows/refund/external-workflow';
import { EXTERNAL_REFUND_WORKFLOW_TYPE, externalRefundWorkflowId } from '../../workflows/refund/contract';

export interface ChargeEventDeps {
  temporal: Client;
  taskQueue: string;
  logger: Logger;
  /** Starting a workflow needs only the Temporal frontend; beyond this, Stripe should retry later. */
  startTimeoutMs?: number;
}

/**
 * The webhook's handler for `charge.refunded` and `charge.dispute.*` (the API's `onChargeEvent`). A
 * refund is handed to ExternalRefundWorkflow, one per Stripe event id; a dispute to its
 * DisputeWorkflow, one per dispute. They do the Stripe reads and ledger writes with retries; this
 * only starts or signals them, so the webhook answers fast. A failure is thrown, so the API answers
 * 5xx and Stripe delivers again.
 */
export function createChargeEventHandler(deps: ChargeEventDeps): (event: Stripe.Event) => Promise<void> {
  const startTimeoutMs = deps.startTimeoutMs ?? 5_000;
  return async (event) => {
    switch (event.type) {
      case 'charge.refunded': {
        const charge = event.data.object;
        const paymentIntentId = typeof charge.payment_intent === 'string' ? charge.payment_intent : charge.payment_intent?.id;
        const log = deps.logger.child({ stripeEventId: event.id, chargeId: charge.id, paymentIntentId });
        if (!paymentIntentId) {
          log.warn('charge.refunded without a payment intent: not ours to reflect');
          return;
        }
        const workflowId = externalRefundWorkflowId(event.id);
        try {
          await deps.temporal.withDeadline(Date.now() + startTimeoutMs, () =>
            deps.temporal.workflow.start<typeof ExternalRefundWorkflow>(EXTERNAL_REFUND_WORKFLOW_TYPE, {
              taskQueue: deps.taskQueue,
              workflowId,
              args: [{ stripeEventId: event.id, paymentIntentId }],
              workflowIdConflictPolicy: 'USE_EXISTING',
              // One reflection per delivery id, ever: a finished one is not run again on a redelivery.
              workflowIdReusePolicy: 'REJECT_DUPLICATE',
            }),
          );
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
        log.info({ workflowId, amountRefunded: charge.amount_refunded }, 'charge.refunded handed to ExternalRefundWorkflow');
        return;
      }
      case 'charge.dispute.created':
      case 'charge.dispute.updated':
      case 'charge.dispute.closed':
      case 'charge.dispute.funds_withdrawn':
      case 'charge.dispute.funds_reinstated': {
        const dispute = event.data.object;
        const workflowId = disputeWorkflowId(dispute.id);
        // Started by the first of its events, woken by every later one: it reads Stripe each time,
        // so events arriving out of order or twice change nothing. A decided dispute's workflow has
        // ended; a late event runs a new one, which finds nothing new to record.
        await deps.temporal.withDeadline(Date.now() + startTimeoutMs, () =>
          deps.temporal.workflow.signalWithStart<typeof DisputeWorkflow, [{ stripeEventId: string; type: string }]>(DISPUTE_WORKFLOW_TYPE, {
            taskQueue: deps.taskQueue,
            workflowId,
            args: [{ disputeId: dispute.id }],
            signal: disputeChangedSignal,
            signalArgs: [{ stripeEventId: event.id, type: event.type }],
            workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          }),
        );
        if (event.type === 'charge.dispute.created') {
          // A dispute needs a person (evidence before the deadline): loud in the log as well as in status.
          deps.logger.warn(
            { stripeEventId: event.id, disputeId: dispute.id, workflowId, amount: dispute.amount, reason: dispute.reason },
            'charge disputed: answer it in the Stripe dashboard before the evidence deadline',
          );
        } else {
          deps.logger.info({ stripeEventId: event.id, disputeId: dispute.id, workflowId, status: dispute.status }, 'dispute event handed to DisputeWorkflow');
        }
        return;
      }
      default:
        return;
    }
  };
}

