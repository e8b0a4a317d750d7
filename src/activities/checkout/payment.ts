import { ApplicationFailure } from '@temporalio/activity';
import Stripe from 'stripe';
import type { ActivityDeps } from '../deps';
import { FailureCode, type PaymentStatus } from '../../workflows/checkout/contract';

/** Idempotency keys are derived from the checkout, so every retry of a call is the same call to Stripe. */
export const paymentIdempotencyKey = (checkoutId: string, operation: 'payment-intent' | 'confirm' | 'void' | 'refund') =>
  `checkout-${checkoutId}:${operation}`;

export interface CreatePaymentIntentInput {
  checkoutId: string;
  orderId: string;
  amount: number;
  currency: string;
  paymentMethodId: string;
}

export interface ConfirmPaymentResult {
  status: PaymentStatus;
  nextActionUrl?: string;
}

export interface UndoPaymentResult {
  /**
   * `pending`: the payment is `processing` at Stripe (the bank is still working on it), which can be
   * neither cancelled nor refunded; nothing was sent, ask again once it has settled.
   */
  action: 'refunded' | 'voided' | 'none' | 'pending';
  amount?: number;
  currency?: string;
  refundId?: string;
}

/** What Stripe says about a payment now; failure fields from its last failed attempt, if any. */
export interface PaymentReconciliation {
  status: PaymentStatus;
  nextActionUrl?: string;
  failureCode?: string;
  failureMessage?: string;
}

export interface VerifyPaymentInput {
  checkoutId: string;
  paymentIntentId: string;
  /** Minor units the order needs. */
  amount: number;
  currency: string;
}

/** Maps a PaymentIntent status to the saga's payment status. */
export function toPaymentStatus(intentStatus: string): PaymentStatus {
  switch (intentStatus) {
    case 'succeeded':
      return 'succeeded';
    case 'requires_action':
      return 'requires_action';
    case 'processing':
      return 'processing';
    case 'canceled':
      return 'canceled';
    case 'requires_payment_method':
      return 'failed';
    default:
      return 'requires_confirmation';
  }
}

/**
 * A card decline or a rejected request is the customer's or our own mistake and never gets better
 * by retrying; everything else (5xx, rate limits, connection errors) is rethrown for Temporal to retry.
 */
function classifyStripeError(err: unknown): never {
  if (err instanceof Stripe.errors.StripeCardError) {
    throw ApplicationFailure.nonRetryable(err.message, FailureCode.PAYMENT_DECLINED, {
      declineCode: err.decline_code ?? err.code,
    });
  }
  if (err instanceof Stripe.errors.StripeInvalidRequestError && err.statusCode !== 409) {
    throw ApplicationFailure.nonRetryable(err.message, FailureCode.PAYMENT_FAILED, { stripeCode: err.code });
  }
  throw err;
}

export function createPaymentActivities({ stripe, appUrl }: Pick<ActivityDeps, 'stripe' | 'appUrl'>) {
  return {
    /** Creates the intent without confirming it: no money moves, but from here on the undo knows its id. */
    async createPaymentIntent(input: CreatePaymentIntentInput): Promise<{ paymentIntentId: string; clientSecret: string | null }> {
      try {
        const intent = await stripe.paymentIntents.create(
          {
            amount: input.amount,
            currency: input.currency.toLowerCase(),
            payment_method: input.paymentMethodId,
            description: `Order ${input.orderId}`,
            metadata: { checkoutId: input.checkoutId, orderId: input.orderId },
          },
          { idempotencyKey: paymentIdempotencyKey(input.checkoutId, 'payment-intent') },
        );
        return { paymentIntentId: intent.id, clientSecret: intent.client_secret };
      } catch (err) {
        return classifyStripeError(err);
      }
    },

    /** The one call that can move money: confirm with the checkout's key, so a retry never charges twice. */
    async confirmPayment(input: { checkoutId: string; paymentIntentId: string }): Promise<ConfirmPaymentResult> {
      try {
        const intent = await stripe.paymentIntents.confirm(
          input.paymentIntentId,
          { return_url: `${appUrl}/?checkout=${encodeURIComponent(input.checkoutId)}` },
          { idempotencyKey: paymentIdempotencyKey(input.checkoutId, 'confirm') },
        );
        if (intent.status === 'requires_payment_method') {
          throw ApplicationFailure.nonRetryable(
            intent.last_payment_error?.message ?? 'The card was declined',
            FailureCode.PAYMENT_DECLINED,
            { declineCode: intent.last_payment_error?.decline_code ?? intent.last_payment_error?.code },
          );
        }
        const nextActionUrl = intent.next_action?.redirect_to_url?.url ?? undefined;
        return { status: toPaymentStatus(intent.status), ...(nextActionUrl ? { nextActionUrl } : {}) };
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        return classifyStripeError(err);
      }
    },

    /** Read-only: used when a webhook is late, to learn how a 3-D Secure or async payment ended. */
    async getPaymentStatus(input: { paymentIntentId: string }): Promise<PaymentStatus> {
      const intent = await stripe.paymentIntents.retrieve(input.paymentIntentId);
      return toPaymentStatus(intent.status);
    },

    /**
     * Read-only: where a payment stands at Stripe, for a saga that follows an unsettled payment by
     * asking rather than waiting for a webhook that may be lost. The failure fields are Stripe's
     * last_payment_error, spelled like the webhook signal's (decline code first).
     */
    async reconcilePayment(input: { paymentIntentId: string }): Promise<PaymentReconciliation> {
      let intent: Stripe.PaymentIntent;
      try {
        intent = await stripe.paymentIntents.retrieve(input.paymentIntentId);
      } catch (err) {
        return classifyStripeError(err);
      }
      const nextActionUrl = intent.next_action?.redirect_to_url?.url ?? undefined;
      const error = intent.last_payment_error;
      const failureCode = error?.decline_code ?? error?.code;
      return {
        status: toPaymentStatus(intent.status),
        ...(nextActionUrl ? { nextActionUrl } : {}),
        ...(failureCode ? { failureCode } : {}),
        ...(error?.message ? { failureMessage: error.message } : {}),
      };
    },

    /**
     * Read-only, before the order is confirmed: Stripe itself must say this checkout's money arrived.
     * Anything else (not succeeded, another amount or currency, another checkout's intent, an intent
     * Stripe does not know) is PAYMENT_NOT_VERIFIED, with every difference named for the operator.
     */
    async verifyPayment(input: VerifyPaymentInput): Promise<{ amountReceived: number }> {
      let intent: Stripe.PaymentIntent;
      try {
        intent = await stripe.paymentIntents.retrieve(input.paymentIntentId);
      } catch (err) {
        if (err instanceof Stripe.errors.StripeInvalidRequestError && err.code === 'resource_missing') {
          throw ApplicationFailure.nonRetryable(
            `Payment not verified for checkout ${input.checkoutId}: Stripe has no PaymentIntent ${input.paymentIntentId}`,
            FailureCode.PAYMENT_NOT_VERIFIED,
          );
        }
        return classifyStripeError(err);
      }
      const expectedCurrency = input.currency.toUpperCase();
      const currency = intent.currency.toUpperCase();
      const problems = [
        intent.status !== 'succeeded' && `its status is ${intent.status}, not succeeded`,
        intent.amount_received !== input.amount && `it received ${intent.amount_received} ${currency}, not ${input.amount} ${expectedCurrency}`,
        currency !== expectedCurrency && `its currency is ${currency}, not ${expectedCurrency}`,
        intent.metadata?.checkoutId !== input.checkoutId &&
          `it belongs to checkout ${intent.metadata?.checkoutId || '(none)'}, not ${input.checkoutId}`,
      ].filter((p): p is string => typeof p === 'string');
      if (problems.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `Payment not verified for checkout ${input.checkoutId}: PaymentIntent ${intent.id} does not pay for it: ${problems.join('; ')}`,
          FailureCode.PAYMENT_NOT_VERIFIED,
          { paymentIntentId: intent.id, status: intent.status, amountReceived: intent.amount_received, currency },
        );
      }
      return { amountReceived: intent.amount_received };
    },

    /**
     * The payment step's undo, registered before the confirm: refunds a succeeded intent, cancels one
     * that never completed, and does nothing for one already cancelled. Reads the intent first so it
     * acts on what Stripe knows, not on what the saga last heard. A `processing` intent is answered
     * `pending` without a request: Stripe refuses to cancel it, and there is nothing to refund yet.
     */
    async refundPayment(input: { checkoutId: string; paymentIntentId: string }): Promise<UndoPaymentResult> {
      const intent = await stripe.paymentIntents.retrieve(input.paymentIntentId, { expand: ['latest_charge'] });
      if (intent.status === 'canceled') return { action: 'none' };
      if (intent.status === 'processing') return { action: 'pending' };
      if (intent.status === 'succeeded') {
        const charge = intent.latest_charge as Stripe.Charge | null;
        const remaining = intent.amount_received - (charge?.amount_refunded ?? 0);
        if (remaining <= 0) return { action: 'none' };
        const refund = await stripe.refunds.create(
          { payment_intent: intent.id, reason: 'requested_by_customer', metadata: { checkoutId: input.checkoutId } },
          { idempotencyKey: paymentIdempotencyKey(input.checkoutId, 'refund') },
        );
        return { action: 'refunded', amount: refund.amount, currency: refund.currency.toUpperCase(), refundId: refund.id };
      }
      await stripe.paymentIntents.cancel(
        intent.id,
        { cancellation_reason: 'abandoned' },
        { idempotencyKey: paymentIdempotencyKey(input.checkoutId, 'void') },
      );
      return { action: 'voided' };
    },
  };
}
