import type { Client } from '@temporalio/client';
import type { Database } from '../../../db/client';
import type { RefundInput } from '../../workflows/refund/contract';
import { OrderNotFoundError } from './errors';
import { findOrder } from './find-order';
import { deriveRefundKey } from './refund-key';
import { requestRefund, type RefundOutcome } from './request-refund';

export interface RefundOrderRequest {
  /** The order's id or its checkout's. */
  orderOrCheckoutId: string;
  /** Minor units; omitted refunds whatever is left. */
  amount?: number;
  reason?: string;
  /** Omitted: derived from order, amount and reason, so the same request twice refunds once. */
  refundKey?: string;
  source: RefundInput['source'];
  requestedBy?: string;
}

/**
 * Refunds a completed order, fully or in part, and waits up to `waitMs` for the outcome
 * (RefundWorkflow, one per refund key). Safe to repeat: the same request finds the first refund.
 */
export async function refundOrder(
  deps: { db: Database; temporal: Client; taskQueue: string },
  request: RefundOrderRequest,
  opts: { waitMs: number },
): Promise<RefundOutcome> {
  const order = await findOrder(deps.db, request.orderOrCheckoutId.trim());
  if (!order) throw new OrderNotFoundError(request.orderOrCheckoutId);
  const terms = { ...(request.amount !== undefined ? { amount: request.amount } : {}), ...(request.reason ? { reason: request.reason } : {}) };
  return requestRefund(
    deps.temporal,
    deps.taskQueue,
    {
      orderId: order.id,
      checkoutId: order.checkoutId,
      refundKey: request.refundKey ?? deriveRefundKey({ orderId: order.id, ...terms }),
      source: request.source,
      ...(request.requestedBy ? { requestedBy: request.requestedBy } : {}),
      ...terms,
    },
    opts,
  );
}
