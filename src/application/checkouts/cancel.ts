import { WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { and, eq } from 'drizzle-orm';
import { checkouts } from '../../../db/schema';
import { cancelUpdate, checkoutWorkflowId } from '../../workflows/checkout/contract';
import { ServiceUnavailableError } from '../errors';
import { rethrowTemporalUnavailable, TEMPORAL_RETRY_AFTER_SECONDS } from '../temporal-errors';
import type { CheckoutDeps } from './deps';
import { CheckoutNotCancellableError } from './errors';
import { checkoutRow, recordFromRow, type CheckoutRecord } from './status';

export interface CancelCheckoutRequest {
  /** Shown to the customer and kept in the history; without one the saga gives its own. */
  reason?: string;
  /** Who asked (`api`, `cli:<user>`), kept in the workflow's history. */
  requestedBy: string;
}

export interface CancelCheckoutResult {
  checkoutId: string;
  /** The checkout when the cancel was accepted: the saga then undoes its steps and ends CANCELLED. */
  state: CheckoutRecord;
  /**
   * `accepted`: the saga took it and is undoing what it did; `cancelled-before-start`: its workflow
   * had never started, so the checkout was cancelled at once with nothing to undo;
   * `already-cancelled`: it had ended CANCELLED before this request, which changed nothing.
   */
  outcome: 'accepted' | 'cancelled-before-start' | 'already-cancelled';
}

/**
 * Asks the saga to cancel through an Update, so the answer is the workflow's own decision: its
 * validator refuses once the order is being confirmed (a completed order is refunded, not cancelled).
 */
export async function cancelCheckout(deps: CheckoutDeps, checkoutId: string, request: CancelCheckoutRequest): Promise<CancelCheckoutResult> {
  await checkoutRow(deps, checkoutId);

  const handle = deps.temporal.workflow.getHandle(checkoutWorkflowId(checkoutId));
  try {
    const state = await deps.temporal.withDeadline(Date.now() + deps.timeouts.updateMs, () =>
      handle.executeUpdate(cancelUpdate, { args: [{ ...(request.reason ? { reason: request.reason } : {}), requestedBy: request.requestedBy }] }),
    );
    deps.logger.info({ checkoutId, status: state.status, requestedBy: request.requestedBy }, 'checkout cancel accepted');
    return { checkoutId, state, outcome: 'accepted' };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const refusal = err.cause instanceof Error ? err.cause.message : undefined;
      throw new CheckoutNotCancellableError((await checkoutRow(deps, checkoutId)).status, refusal ? { refusal } : {});
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
  const [cancelled] = await deps.db
    .update(checkouts)
    .set({ status: 'CANCELLED', failureCode: 'CANCELLED', failureMessage: 'Cancelled before it started', updatedAt: new Date() })
    .where(and(eq(checkouts.id, checkoutId), eq(checkouts.status, 'PENDING')))
    .returning();
  if (cancelled) {
    deps.logger.info({ checkoutId }, 'checkout cancelled before its workflow started');
    return { checkoutId, state: recordFromRow(cancelled), outcome: 'cancelled-before-start' };
  }
  const row = await checkoutRow(deps, checkoutId);
  // Cancelling a cancelled checkout is what the client wanted anyway: the API answers like the
  // first time, as the workflow's own validator does while it is still finishing its undo.
  if (row.status === 'CANCELLED') return { checkoutId, state: recordFromRow(row), outcome: 'already-cancelled' };
  throw new CheckoutNotCancellableError(row.status, { finished: true });
}
