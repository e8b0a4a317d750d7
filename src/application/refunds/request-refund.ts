import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { checkoutWorkflowId } from '../../workflows/checkout/contract';
import type { RefundWorkflow } from '../../workflows/refund/workflow';
import {
  REFUND_WORKFLOW_TYPE,
  RefundFailureCode,
  refundWorkflowId,
  type RefundInput,
  type RefundResult,
} from '../../workflows/refund/contract';
import { formatMoney } from '../../money';
import { RefundRefusedError, RefundStillRunningError } from './errors';

export interface RefundRequest {
  orderId: string;
  /** The order's checkout: a refund waits until its saga has finished. */
  checkoutId: string;
  /** Minor units; omitted refunds whatever is left. */
  amount?: number;
  reason?: string;
  refundKey: string;
  source: RefundInput['source'];
  requestedBy?: string;
}

export interface RefundOutcome {
  result: RefundResult;
  workflowId: string;
  /** True when this key had already been refunded (or was in flight): no second refund was made. */
  repeated: boolean;
}

/**
 * Starts the refund (or finds the one this key already started) and waits for its outcome. A
 * completed refund is never repeated (ALLOW_DUPLICATE_FAILED_ONLY); a failed one may be re-run with
 * the same key, which is safe because Stripe sees the same idempotency key and the ledger the same row.
 */
export async function requestRefund(
  client: Client,
  taskQueue: string,
  request: RefundRequest,
  opts: { waitMs: number },
): Promise<RefundOutcome> {
  const workflowId = refundWorkflowId(request.refundKey);
  const input: RefundInput = {
    refundKey: request.refundKey,
    orderId: request.orderId,
    source: request.source,
    ...(request.amount !== undefined ? { amount: request.amount } : {}),
    ...(request.reason ? { reason: request.reason } : {}),
    ...(request.requestedBy ? { requestedBy: request.requestedBy } : {}),
  };

  const earlier = await describeStatus(client, workflowId);
  const repeated = earlier === 'RUNNING' || earlier === 'COMPLETED';
  if (!repeated && (await describeStatus(client, checkoutWorkflowId(request.checkoutId))) === 'RUNNING') {
    // The order is CONFIRMED a moment before the saga publishes order.confirmed; a refund event in
    // between would carry a higher sequence and make consumers drop the confirmation as stale.
    throw new RefundRefusedError(
      RefundFailureCode.ORDER_NOT_REFUNDABLE,
      `checkout ${request.checkoutId} is still running; an order can be refunded once its checkout has completed`,
      workflowId,
    );
  }
  let handle: WorkflowHandle<typeof RefundWorkflow>;
  if (earlier === 'COMPLETED') {
    handle = client.workflow.getHandle<typeof RefundWorkflow>(workflowId);
  } else {
    try {
      handle = await client.workflow.start<typeof RefundWorkflow>(REFUND_WORKFLOW_TYPE, {
        taskQueue,
        workflowId,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      });
    } catch (err) {
      // Completed between our look and the start: the first request's answer is the answer.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      handle = client.workflow.getHandle<typeof RefundWorkflow>(workflowId);
    }
  }

  const result = await waitForResult(client, handle, workflowId, opts.waitMs);
  assertSameRequest(result, request, workflowId);
  return { result, workflowId, repeated };
}

async function describeStatus(client: Client, workflowId: string): Promise<string | undefined> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

async function waitForResult(
  client: Client,
  handle: WorkflowHandle<typeof RefundWorkflow>,
  workflowId: string,
  waitMs: number,
): Promise<RefundResult> {
  const deadline = AbortSignal.timeout(waitMs);
  try {
    // The abort ends the long poll itself, so no request is left hanging on the connection.
    return await client.withAbortSignal(deadline, () => handle.result());
  } catch (err) {
    if (deadline.aborted) throw new RefundStillRunningError(workflowId, waitMs);
    if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure && err.cause.type) {
      throw new RefundRefusedError(err.cause.type, err.cause.message, workflowId);
    }
    throw err;
  }
}

/** A key reused with other terms must not pass for success: the money that moved is not what was asked. */
function assertSameRequest(result: RefundResult, request: RefundRequest, workflowId: string): void {
  if (result.orderId !== request.orderId) {
    throw new RefundRefusedError(
      RefundFailureCode.REFUND_KEY_CONFLICT,
      `refund key ${request.refundKey} was already used for order ${result.orderId}`,
      workflowId,
    );
  }
  if (request.amount !== undefined && result.requested.amount !== request.amount) {
    const earlier = result.requested.amount === null ? 'the rest of the order' : formatMoney(result.requested.amount, result.currency);
    throw new RefundRefusedError(
      RefundFailureCode.REFUND_KEY_CONFLICT,
      `refund key ${request.refundKey} was already used for ${earlier} (refunded ${formatMoney(result.amount, result.currency)}), not ${formatMoney(request.amount, result.currency)}`,
      workflowId,
    );
  }
}
