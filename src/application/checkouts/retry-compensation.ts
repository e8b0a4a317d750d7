import { WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { checkoutWorkflowId, retryCompensationsUpdate, type CheckoutState } from '../../workflows/checkout/contract';
import { ServiceUnavailableError } from '../errors';
import { rethrowTemporalUnavailable, TEMPORAL_RETRY_AFTER_SECONDS } from '../temporal-errors';
import type { CheckoutDeps } from './deps';
import { CompensationRetryRefusedError } from './errors';
import { checkoutRow } from './status';

/**
 * For a checkout waiting in NEEDS_ATTENTION whose cause an operator has fixed: the saga runs the
 * compensations that failed again. The `retryCompensations` update's validator decides; its answer
 * is the state at the moment it accepted, before the retry round has run.
 */
export async function retryCompensations(deps: CheckoutDeps, checkoutId: string): Promise<{ checkoutId: string; state: CheckoutState }> {
  await checkoutRow(deps, checkoutId);

  const handle = deps.temporal.workflow.getHandle(checkoutWorkflowId(checkoutId));
  try {
    const state = await deps.temporal.withDeadline(Date.now() + deps.timeouts.updateMs, () => handle.executeUpdate(retryCompensationsUpdate));
    deps.logger.info({ checkoutId, status: state.status }, 'compensation retry accepted');
    return { checkoutId, state };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const refusal = err.cause instanceof Error ? err.cause.message : undefined;
      throw new CompensationRetryRefusedError((await checkoutRow(deps, checkoutId)).status, refusal ? { refusal } : {});
    }
    if (err instanceof WorkflowNotFoundError) {
      const { status } = await checkoutRow(deps, checkoutId);
      // Never started (Temporal was down when it was submitted): nothing ran, so nothing failed.
      if (status === 'PENDING') throw new CompensationRetryRefusedError(status, { refusal: `The checkout is ${status}, not NEEDS_ATTENTION` });
      throw new CompensationRetryRefusedError(status, { finished: true });
    }
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      throw new ServiceUnavailableError('checkout-worker', TEMPORAL_RETRY_AFTER_SECONDS, { cause: err });
    }
    return rethrowTemporalUnavailable(err);
  }
}
