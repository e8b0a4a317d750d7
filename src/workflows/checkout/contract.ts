/**
 * The CheckoutWorkflow contract: every name the API, the CLI, the worker and the workflow share.
 * Spelled once here so a signal or a status can never drift between them. Safe in the workflow
 * sandbox: it only defines handles, it performs no I/O.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const CHECKOUT_WORKFLOW_TYPE = 'CheckoutWorkflow';
export const checkoutWorkflowId = (checkoutId: string): string => `checkout-${checkoutId}`;
export const checkoutIdFromWorkflowId = (workflowId: string): string | undefined =>
  workflowId.startsWith('checkout-') ? workflowId.slice('checkout-'.length) : undefined;

export const CHECKOUT_STATUSES = [
  'PENDING',
  'PROCESSING',
  'REQUIRES_ACTION',
  'COMPENSATING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'NEEDS_ATTENTION',
] as const;
export type CheckoutStatus = (typeof CHECKOUT_STATUSES)[number];
export const TERMINAL_STATUSES: readonly CheckoutStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

/** The saga's steps, in order; `step` in the status names the one in progress. */
export const CHECKOUT_STEPS = ['reserveStock', 'capturePayment', 'createUser', 'issueSsoToken', 'confirmOrder'] as const;
export type CheckoutStep = (typeof CHECKOUT_STEPS)[number];

/** Machine-readable `failure.code` values; the first four are the customer's, the rest the system's. */
export const FailureCode = {
  OUT_OF_STOCK: 'OUT_OF_STOCK',
  UNKNOWN_SKU: 'UNKNOWN_SKU',
  INVALID_CART: 'INVALID_CART',
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  PAYMENT_AUTHENTICATION_FAILED: 'PAYMENT_AUTHENTICATION_FAILED',
  PAYMENT_ACTION_TIMEOUT: 'PAYMENT_ACTION_TIMEOUT',
  PAYMENT_FAILED: 'PAYMENT_FAILED',
  /** The buyer left a 3-D Secure challenge open (no status read for PAYMENT_ABANDON_AFTER_MS): stock goes back on sale. */
  PAYMENT_ABANDONED: 'PAYMENT_ABANDONED',
  /** Stripe does not confirm the money the order needs (status, amount, currency or checkout differ). */
  PAYMENT_NOT_VERIFIED: 'PAYMENT_NOT_VERIFIED',
  /** A payment still `processing` at Stripe after PAYMENT_SETTLEMENT_HORIZON_MS. */
  PAYMENT_SETTLEMENT_TIMEOUT: 'PAYMENT_SETTLEMENT_TIMEOUT',
  /** Deferred capture: the authorization could not be captured (it expired, or the bank refused at capture). */
  PAYMENT_CAPTURE_FAILED: 'PAYMENT_CAPTURE_FAILED',
  CANCELLED: 'CANCELLED',
  STEP_FAILED: 'STEP_FAILED',
} as const;
export type FailureCode = (typeof FailureCode)[keyof typeof FailureCode];

export interface CheckoutItem {
  sku: string;
  quantity: number;
}

export interface CheckoutInput {
  checkoutId: string;
  orderId: string;
  customer: { email: string; name?: string };
  items: CheckoutItem[];
  paymentMethodId: string;
  /**
   * What the CustomerEmail search attribute holds: a keyed hash of the email (CUSTOMER_EMAIL_HASH_KEY),
   * computed by the starter because the workflow holds no keys. Absent: checkouts started before it
   * existed, whose attribute is the address itself.
   */
  customerEmailHash?: string;
  /** How long a 3-D Secure challenge or an async payment may stay open (PAYMENT_ACTION_TIMEOUT_MS). */
  paymentActionTimeoutMs: number;
  /** How long each compensation is retried before the checkout needs an operator (COMPENSATION_RETRY_WINDOW_MS). */
  compensationRetryWindowMs: number;
  /**
   * A 3-D Secure challenge is given up this long after the buyer last looked at the checkout
   * (PAYMENT_ABANDON_AFTER_MS; the API signals `buyerPresent` while they do). Absent: only
   * `paymentActionTimeoutMs` applies (checkouts started before it existed, and sagas started without the API).
   */
  paymentAbandonAfterMs?: number;
  /** How long a payment Stripe reports as `processing` is followed before ops must look (PAYMENT_SETTLEMENT_HORIZON_MS). */
  paymentSettlementHorizonMs?: number;
  /** First wait before asking Stripe again about an unsettled payment; doubles up to an hour (PAYMENT_RECONCILE_INTERVAL_MS). */
  paymentReconcileIntervalMs?: number;
  /**
   * `deferred` (PAYMENT_CAPTURE_MODE): the payment step only authorizes the card and the money is
   * captured just before the order is confirmed, so a checkout that fails in between voids the
   * authorization instead of refunding a charge. Absent: `immediate` (checkouts from before it existed).
   */
  captureMode?: CaptureMode;
}

export const CAPTURE_MODES = ['immediate', 'deferred'] as const;
export type CaptureMode = (typeof CAPTURE_MODES)[number];

export type CompensationName = 'releaseStock' | 'refundPayment' | 'deleteUser' | 'revokeSsoToken';

export interface CompensationState {
  name: CompensationName;
  status: 'pending' | 'running' | 'done' | 'failed';
  /** What the undo did, in an operator's words (e.g. "refunded 4200 EUR", "nothing to undo"). */
  outcome?: string;
  error?: string;
}

export type PaymentStatus =
  | 'not_started'
  | 'requires_confirmation'
  | 'requires_action'
  | 'processing'
  /** Deferred capture: the card is authorized for the total; the money moves at capture. */
  | 'authorized'
  | 'succeeded'
  | 'failed'
  | 'canceled'
  | 'refunded';

/** The answer of `GET /api/checkouts/:id` before the API adds what only it may compute (SSO URL). */
export interface CheckoutState {
  checkoutId: string;
  orderId: string;
  status: CheckoutStatus;
  step: CheckoutStep | null;
  amount: number | null;
  currency: string | null;
  customerEmail: string;
  payment: {
    status: PaymentStatus;
    paymentIntentId?: string;
    /** `manual` when the card was authorized for a deferred capture; methods that cannot be are captured at once. */
    captureMethod?: 'automatic' | 'manual';
  };
  failure?: { code: FailureCode | string; message: string };
  userId?: string;
  /** Present once the auto-login token exists; the raw token is never part of workflow state. */
  sso?: { tokenId: string; expiresAt: string };
  compensations: CompensationState[];
  /**
   * An outcome event past the point of no return that Kafka has not taken yet: retried without end,
   * shown to ops (search attribute CheckoutStep="outcomeEventPending") rather than ever compensated.
   */
  outcomeEventPending?: { type: string; failedRounds: number; lastError: string };
  /** Increases on every change, so a long-poll can tell "changed" from "same". */
  version: number;
  updatedAt: string;
}

/** A Stripe webhook, reduced to what the saga needs; routed here by POST /webhooks/stripe. */
export interface PaymentEventSignal {
  stripeEventId: string;
  type: string;
  paymentIntentId: string;
  /** The PaymentIntent's status carried by the event. */
  intentStatus: string;
  failureCode?: string;
  failureMessage?: string;
}

export interface CancelRequest {
  reason?: string;
  requestedBy?: string;
}

export const paymentEventSignal = defineSignal<[PaymentEventSignal]>('paymentEvent');
/** Fire-and-forget cancel (e.g. from the Web UI); the API and CLI use `cancelUpdate` to get an answer. */
export const cancelSignal = defineSignal<[CancelRequest]>('cancel');
/** Accepted while the checkout can still be undone; rejected (HTTP 409 / CLI exit 1) once it cannot. */
export const cancelUpdate = defineUpdate<CheckoutState, [CancelRequest]>('cancel');
/** For a checkout in NEEDS_ATTENTION: run the compensations that failed again, once the fault is fixed. */
export const retryCompensationsUpdate = defineUpdate<CheckoutState, []>('retryCompensations');
export const statusQuery = defineQuery<CheckoutState>('status');
/**
 * Sent by the API (throttled) while the holder of the checkout's secret is following it: a 3-D
 * Secure challenge nobody is looking at any more releases its stock early (PAYMENT_ABANDON_AFTER_MS).
 */
export const buyerPresentSignal = defineSignal<[]>('buyerPresent');

/** Search attributes the local stack and docker-compose register; ops filter the Web UI by them. */
export const searchAttributes = {
  status: defineSearchAttributeKey('CheckoutStatus', SearchAttributeType.KEYWORD),
  step: defineSearchAttributeKey('CheckoutStep', SearchAttributeType.KEYWORD),
  customerEmail: defineSearchAttributeKey('CustomerEmail', SearchAttributeType.KEYWORD),
  orderTotal: defineSearchAttributeKey('OrderTotal', SearchAttributeType.INT),
};

export interface CheckoutResult {
  status: CheckoutStatus;
  orderId: string;
  failure?: { code: string; message: string };
}
