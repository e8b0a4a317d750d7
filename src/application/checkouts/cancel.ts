import { WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { and, eq } from 'drizzle-orm';
import { checkouts } from '../../../db/schema';
import { cancelUpdate, checkoutWorkflowId, type CheckoutStatus } from '../../workflows/checkout/contract';
import type { CheckoutDeps } from './deps';
import { CheckoutNotCancellableError, CheckoutNotFoundError, ServiceUnavailableError } from './errors';
import { rethrowTemporalUnavailable, TEMPORAL_RETRY_AFTER_SECONDS } from '../temporal-errors';

export interface CancelCheckoutResult {
  checkoutId: string;
  /** The status when the saga accepted the cancel; it then undoes its steps and ends CANCELLED. */
  status: CheckoutStatus;
}

/**
 * Asks the saga to cancel through an Update, so the answer is the workflow's own decision: its
 * validator refuses once the order is being confirmed (a completed order is refunded, not cancelled).
 */
export async function cancelCheckout(deps: CheckoutDeps, checkoutId: string, request: { reason?: string }): Promise<CancelCheckoutResult> {
  const [row] = await deps.db.select().from(checkouts).where(eq(checkouts.id, checkoutId));
  if (!row) throw new CheckoutNotFoundError(checkoutId);

  const handle = deps.temporal.workflow.getHandle(checkoutWorkflowId(checkoutId));
  try {
    const state = await deps.temporal.withDeadline(Date.now() + deps.timeouts.cancelUpdateMs, () =>
      handle.executeUpdate(cancelUpdate, { args: [{ reason: request.reason ?? 'Cancelled by the customer', requestedBy: 'api' }] }),
    );
    deps.logger.info({ checkoutId, status: state.status }, 'checkout cancel accepted');
    return { checkoutId, status: state.status };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      // The validator's message is written for customers ("The checkout is COMPLETED and can ...").
      const message = err.cause instanceof Error ? err.cause.message : undefined;
      throw new CheckoutNotCancellableError(await currentStatus(deps, checkoutId), message ? `${message}.`.replace(/\.\.$/, '.') : undefined);
    }
    if (err instanceof WorkflowNotFoundError) return cancelWithoutWorkflow(deps, checkoutId);
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      // No worker took the update in time; nothing was decided, so the client may simply retry.
      throw new ServiceUnavailableError('checkout-worker', TEMPORAL_RETRY_AFTER_SECONDS, { cause: err });
    }
    return rethrowTemporalUnavailable(err);
  }
}

/**
 * No running workflow: either it has finished (too late to cancel, or already cancelled) or it was
 * never started because Temporal was down when the checkout was submitted. The second has nothing to undo, so the row
 * alone is cancelled, conditionally, so an idempotent replay can no longer start it.
 */
async function cancelWithoutWorkflow(deps: CheckoutDeps, checkoutId: string): Promise<CancelCheckoutResult> {
  const cancelled = await deps.db
    .update(checkouts)
    .set({ status: 'CANCELLED', failureCode: 'CANCELLED', failureMessage: 'Cancelled before it started', updatedAt: new Date() })
    .where(and(eq(checkouts.id, checkoutId), eq(checkouts.status, 'PENDING')))
    .returning({ id: checkouts.id });
  if (cancelled.length > 0) {
    deps.logger.info({ checkoutId }, 'checkout cancelled before its workflow started');
    return { checkoutId, status: 'CANCELLED' };
  }
  const status = await currentStatus(deps, checkoutId);
  // Cancelling a cancelled checkout is what the client wanted anyway: answer like the first time,
  // as the workflow's own validator does while it is still finishing its undo.
  if (status === 'CANCELLED') return { checkoutId, status };
  throw new CheckoutNotCancellableError(status);
}

async function currentStatus(deps: CheckoutDeps, checkoutId: string): Promise<string | undefined> {
  const [row] = await deps.db.select({ status: checkouts.status }).from(checkouts).where(eq(checkouts.id, checkoutId));
  return row?.status;
}
