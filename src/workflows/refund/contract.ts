import type { OutcomeEvent } from '../../events/contract';
import { outcomeEventId, recordedEvent, type EventFields } from '../../events/outcome-events';

/**
 * The RefundWorkflow contract: ids, input, result and refusal codes shared by the CLI, the webhook
 * handler, the worker and the workflow. Types and pure functions only: it runs in the workflow sandbox.
 */

export const REFUND_WORKFLOW_TYPE = 'RefundWorkflow';
export const EXTERNAL_REFUND_WORKFLOW_TYPE = 'ExternalRefundWorkflow';

/** One workflow per refund request: starting the same key twice finds the first one. */
export const refundWorkflowId = (refundKey: string): string => `refund-${refundKey}`;
/** One reflection per Stripe webhook delivery; the ledger dedupes per Stripe refund id underneath. */
export const externalRefundWorkflowId = (stripeEventId: string): string => `stripe-refund-sync-${stripeEventId}`;
/** The Stripe idempotency key of a refund request: a retried or re-run workflow refunds once. */
export const refundIdempotencyKey = (refundKey: string): string => `refund-${refundKey}`;
/** Refund key of a refund made outside the service (Stripe dashboard, a bank), keyed by its Stripe id. */
export const externalRefundKey = (stripeRefundId: string): string => `stripe-${stripeRefundId}`;
/** CloudEvent id of the refund's `payment.refunded`: a re-sent publish is a duplicate consumers drop. */
export const refundEventId = (refundKey: string): string => outcomeEventId(refundWorkflowId(refundKey), 'payment.refunded');

/** Refund keys end up in workflow ids, Stripe idempotency keys and event ids: keep them plain. */
export const REFUND_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,119}$/;

/** Why a refund was refused: non-retryable business failures, the `type` of the ApplicationFailure. */
export const RefundFailureCode = {
  UNKNOWN_ORDER: 'UNKNOWN_ORDER',
  ORDER_NOT_REFUNDABLE: 'ORDER_NOT_REFUNDABLE',
  NOTHING_TO_REFUND: 'NOTHING_TO_REFUND',
  OVER_REFUND: 'OVER_REFUND',
  INVALID_AMOUNT: 'INVALID_AMOUNT',
  /** The refund key was already used for a different order or amount. */
  REFUND_KEY_CONFLICT: 'REFUND_KEY_CONFLICT',
  /** Stripe refused for a reason other than the amount (e.g. a disputed charge). */
  REFUND_DECLINED: 'REFUND_DECLINED',
  /** Stripe refunded more than the ledger allows: money moved that the books cannot hold; a person must look. */
  LEDGER_MISMATCH: 'LEDGER_MISMATCH',
} as const;
export type RefundFailureCode = (typeof RefundFailureCode)[keyof typeof RefundFailureCode];

/** Order statuses from which a refund may start. */
export const REFUNDABLE_ORDER_STATUSES = ['CONFIRMED', 'PARTIALLY_REFUNDED'] as const;

export type RefundSource = 'cli' | 'api' | 'stripe';

export interface RefundInput {
  refundKey: string;
  orderId: string;
  /** Minor units; omitted means "whatever is left to refund". */
  amount?: number;
  reason?: string;
  source: Exclude<RefundSource, 'stripe'>;
  /** Who asked (e.g. `cli:alice`): kept in the workflow history and the logs. */
  requestedBy?: string;
}

/** A refund as the ledger holds it once settled; everything `payment.refunded` carries. */
export interface SettledRefund {
  refundKey: string;
  orderId: string;
  checkoutId: string;
  customerEmail: string;
  paymentIntentId: string;
  stripeRefundId: string;
  amount: number;
  currency: string;
  reason: string | null;
  source: RefundSource;
  /** The order's refunded total right after this refund. */
  totalRefunded: number;
  orderAmount: number;
  orderStatus: 'PARTIALLY_REFUNDED' | 'REFUNDED';
  eventSequence: number;
  /** When the ledger recorded it: the event's `time`, so a re-sent event is byte-identical. */
  settledAt: string;
}

export interface RefundResult extends SettledRefund {
  /** What was asked (`amount` null: the rest), so a caller reusing a key can see it got an earlier answer. */
  requested: { amount: number | null; reason: string | null };
  /** True once this refund left the order fully refunded and its stock was put back. */
  stockReturned: boolean;
}

/** Input of the reflection of a `charge.refunded` webhook. */
export interface ExternalRefundInput {
  stripeEventId: string;
  paymentIntentId: string;
}

export interface ExternalRefundResult {
  /** Stripe refunds found on the payment that the ledger did not know yet, now recorded. */
  recorded: SettledRefund[];
  /** Why nothing was done, when nothing was (e.g. the payment belongs to no completed order). */
  ignored?: string;
}

/** What `payment.refunded` says of a refund, whether the ledger is numbering it or it is being sent. */
export function refundedEventFields(refund: Pick<SettledRefund, 'paymentIntentId' | 'stripeRefundId' | 'amount' | 'currency' | 'totalRefunded' | 'orderAmount' | 'reason'>): EventFields<'payment.refunded'> {
  return {
    paymentIntentId: refund.paymentIntentId,
    refundId: refund.stripeRefundId,
    amount: refund.amount,
    currency: refund.currency,
    totalRefunded: refund.totalRefunded,
    orderAmount: refund.orderAmount,
    ...(refund.reason ? { reason: refund.reason } : {}),
  };
}

/** The `payment.refunded` of a recorded refund, with the sequence the ledger gave it: the same event however often it is sent. */
export function refundedEvent(refund: SettledRefund): OutcomeEvent<'payment.refunded'> {
  const subject = { orderId: refund.orderId, checkoutId: refund.checkoutId, customerEmail: refund.customerEmail };
  return recordedEvent(subject, refund.eventSequence, 'payment.refunded', refundEventId(refund.refundKey), refundedEventFields(refund));
}
