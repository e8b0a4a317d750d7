import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type Stripe from 'stripe';
import type { Logger } from '../../logger';
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
 * The webhook's handler for `charge.refunded` and `charge.dispute.created` (the API's
 * `onChargeEvent`). A refund is handed to ExternalRefundWorkflow, one per Stripe event id, which
 * does the Stripe reads and ledger writes with retries; this only starts it, so the webhook answers
 * fast. A failure to start is thrown, so the API answers 5xx and Stripe delivers again.
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
      case 'charge.dispute.created': {
        const dispute = event.data.object;
        // A dispute moves no money through us yet and needs a person (evidence, deadline): make it loud.
        deps.logger.warn(
          { stripeEventId: event.id, disputeId: dispute.id, chargeId: typeof dispute.charge === 'string' ? dispute.charge : dispute.charge.id, amount: dispute.amount, reason: dispute.reason },
          'charge disputed: respond in the Stripe dashboard before the evidence deadline',
        );
        return;
      }
      default:
        return;
    }
  };
}

