import { createHash } from 'node:crypto';
import { REFUND_KEY_PATTERN } from '../../workflows/refund/contract';

/**
 * The refund key of a request that did not bring one: derived from what was asked, so an operator
 * who runs the same command twice (a retry after a timeout, a double paste) refunds once. Two
 * deliberate, identical partial refunds of one order therefore need distinct reasons or `--key`.
 * The reason is normalised (case, spacing) before hashing, because "Damaged item" and "damaged  item"
 * are the same request.
 */
export function deriveRefundKey(request: { orderId: string; amount?: number; reason?: string }): string {
  const reason = (request.reason ?? '').trim().toLowerCase().replace(/\s+/g, ' ');
  const digest = createHash('sha256').update(reason).digest('hex').slice(0, 12);
  return `${request.orderId}-${request.amount ?? 'rest'}-${digest}`;
}

export function isValidRefundKey(key: string): boolean {
  return REFUND_KEY_PATTERN.test(key);
}
