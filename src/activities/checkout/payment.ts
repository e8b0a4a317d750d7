import { ApplicationFailure, Context } from '@temporalio/activity';
import Stripe from 'stripe';
import type { ActivityDeps } from '../deps';
import { sendAlongKeyChain } from '../stripe-key-chain';
import { FailureCode, type PaymentStatus } from '../../workflows/checkout/contract';

/**
 * Idempotency keys are derived from the checkout, so every retry of a call is the same call to
 * Stripe. Each is the first key of its chain (`:2`, `:3`, ... follow only once Stripe replayed an
 * error for the one before and reading Stripe proved that request did nothing; see stripe-key-chain.ts).
 */
export const paymentIdempotencyKey = (
  checkoutId: string,
  operation: 'payment-intent' | 'payment-intent-automatic' | 'confirm' | 'capture' | 'void' | 'refund',
) => `checkout-${checkoutId}:${operation}`;

/**
 * How far Stripe's clock (an intent's `created`) may be behind Temporal's (when the activity was
 * scheduled): a create made by this activity cannot be older than its schedule minus this.
 */
const CLOCK_SKEW_MS = 5 * 60_000;

/** The statuses Stripe lets an intent be cancelled from; `processing` is not one of them. */
const CANCELABLE: ReadonlySet<string> = new Set(['requires_payment_method', 'requires_confirmation', 'requires_capture', 'requires_action']);

/** What the undo sends with its cancel, so a later attempt can tell the cancel it never heard back from. */
const UNDO_CANCELLATION_REASON = 'abandoned';

export interface CreatePaymentIntentInput {
  checkoutId: string;
  orderId: string;
  amount: number;
  currency: string;
  paymentMethodId: string;
  /**
   * `manual` (deferred capture): authorize only. A method that cannot hold funds for a later capture
   * (bank debits such as SEPA, which settle asynchronously) is charged at once instead.
   */
  captureMethod?: 'automatic' | 'manual';
}

export interface CreatedPaymentIntent {
  paymentIntentId: string;
  /** How Stripe will capture it: `manual` only when the method could be authorized separately. */
  captureMethod: 'automatic' | 'manual';
}

/**
 * Where the payment stands after the confirm. Never the client secret or the 3-D Secure link (its
 * URL carries the client secret): activity results live in workflow history, and the buyer's API
 * asks Stripe for both while the challenge is open (application/checkouts/payment-action.ts).
 */
export interface ConfirmPaymentResult {
  status: PaymentStatus;
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
    case 'requires_capture':
      return 'authorized';
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

/** What a confirm that took effect led to; a failed attempt is the customer's decline, never retried. */
function confirmOutcome(intent: Stripe.PaymentIntent): ConfirmPaymentResult {
  if (intent.status === 'requires_payment_method') {
    throw ApplicationFailure.nonRetryable(intent.last_payment_error?.message ?? 'The card was declined', FailureCode.PAYMENT_DECLINED, {
      declineCode: intent.last_payment_error?.decline_code ?? intent.last_payment_error?.code,
    });
  }
  if (intent.status === 'canceled') {
    throw ApplicationFailure.nonRetryable(`PaymentIntent ${intent.id} was cancelled before it was paid`, FailureCode.PAYMENT_FAILED);
  }
  return { status: toPaymentStatus(intent.status) };
}

export function createPaymentActivities({ stripe, appUrl }: Pick<ActivityDeps, 'stripe' | 'appUrl'>) {
  /** The oldest intent of this checkout: should a create ever run twice, the others are never confirmed. */
  const oldest = (intents: Stripe.PaymentIntent[]) => [...intents].sort((a, b) => a.created - b.created || a.id.localeCompare(b.id))[0];

  /**
   * The intent an earlier create for this checkout made, as Stripe's search shows it: one request,
   * but search lags writes ("under 1 minute" normally, longer during an outage:
   * https://docs.stripe.com/search, "Data freshness"), so finding nothing proves nothing.
   */
  const searchIntentOfCheckout = async (checkoutId: string) =>
    oldest((await stripe.paymentIntents.search({ query: `metadata['checkoutId']:'${checkoutId}'`, limit: 10 })).data);

  /**
   * The same, from the list of intents created since the activity was first scheduled: lists show
   * an object as soon as its request answered, so finding nothing here proves no create of this
   * activity made one. It pages through every intent of the account in that window, which is why it
   * is only asked once Stripe replayed an error and search found nothing.
   */
  const listIntentOfCheckout = async (checkoutId: string, sinceMs: number) => {
    const ours: Stripe.PaymentIntent[] = [];
    for await (const intent of stripe.paymentIntents.list({ created: { gte: Math.floor((sinceMs - CLOCK_SKEW_MS) / 1000) }, limit: 100 })) {
      if (intent.metadata?.checkoutId === checkoutId) ours.push(intent);
    }
    return oldest(ours);
  };

  /** The undo's own refund of this intent, found by listing (consistent, unlike search): the one without a refund key. */
  const undoRefundOf = async (paymentIntentId: string, checkoutId: string): Promise<Stripe.Refund | undefined> => {
    for await (const refund of stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 })) {
      // RefundWorkflow's refunds carry their refundKey; a dashboard refund carries no checkoutId.
      const ours = refund.metadata?.checkoutId === checkoutId && !refund.metadata?.refundKey;
      if (ours && (refund.status === 'succeeded' || refund.status === 'pending')) return refund;
    }
    return undefined;
  };

  const refunded = (refund: Stripe.Refund): UndoPaymentResult => ({
    action: 'refunded',
    amount: refund.amount,
    currency: refund.currency.toUpperCase(),
    refundId: refund.id,
  });

  return {
    /**
     * Creates the intent without confirming it: no money moves, but from here on the undo knows its id.
     * A retry first searches for the intent an earlier attempt may have made (its answer lost, or a
     * 500 Stripe saved for the key and replays to every retry). Search lags, so finding nothing there
     * only leads to re-sending the same key, which runs the create if nothing was saved; if Stripe
     * replays a saved error instead, the list of intents created since the first attempt (consistent,
     * unlike search) says whether that create made one, and only if it did not is a new key sent.
     */
    async createPaymentIntent(input: CreatePaymentIntentInput): Promise<CreatedPaymentIntent> {
      const { attempt, scheduledTimestampMs } = Context.current().info;
      const created = (intent: Stripe.PaymentIntent): CreatedPaymentIntent => ({
        paymentIntentId: intent.id,
        captureMethod: intent.capture_method === 'manual' ? 'manual' : 'automatic',
      });
      // The fallback after a refused authorization is another request: its own key.
      const create = (captureMethod: 'automatic' | 'manual') =>
        sendAlongKeyChain(
          paymentIdempotencyKey(input.checkoutId, input.captureMethod === 'manual' && captureMethod === 'automatic' ? 'payment-intent-automatic' : 'payment-intent'),
          (idempotencyKey) =>
            stripe.paymentIntents.create(
              {
                amount: input.amount,
                currency: input.currency.toLowerCase(),
                payment_method: input.paymentMethodId,
                description: `Order ${input.orderId}`,
                metadata: { checkoutId: input.checkoutId, orderId: input.orderId },
                ...(captureMethod === 'manual' ? { capture_method: 'manual' as const } : {}),
              },
              { idempotencyKey },
            ),
          // Search first: it also finds an intent made by an earlier run of the activity, before this one was scheduled.
          async () => (await searchIntentOfCheckout(input.checkoutId)) ?? (await listIntentOfCheckout(input.checkoutId, scheduledTimestampMs)),
        );
      try {
        if (attempt > 1) {
          const earlier = await searchIntentOfCheckout(input.checkoutId);
          if (earlier) return created(earlier);
        }
        if (input.captureMethod !== 'manual') return created(await create('automatic'));
        try {
          return created(await create('manual'));
        } catch (err) {
          // Stripe refuses a separate capture for methods that settle asynchronously: charge at once.
          if (!(err instanceof Stripe.errors.StripeInvalidRequestError && err.code === 'payment_intent_incompatible_payment_method')) throw err;
          return created(await create('automatic'));
        }
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        return classifyStripeError(err);
      }
    },

    /**
     * The one call that can move money. A retry first reads the intent: if an earlier attempt's confirm
     * took effect (its answer lost, or a 500 Stripe saved for the key), that is the answer; only an
     * intent still `requires_confirmation` is confirmed again. A PaymentIntent succeeds at most once,
     * so a confirm can never charge twice, whatever key it is sent with.
     */
    async confirmPayment(input: { checkoutId: string; paymentIntentId: string }): Promise<ConfirmPaymentResult> {
      const { attempt } = Context.current().info;
      const confirmTookEffect = (intent: Stripe.PaymentIntent) => intent.status !== 'requires_confirmation';
      try {
        if (attempt > 1) {
          const intent = await stripe.paymentIntents.retrieve(input.paymentIntentId);
          if (confirmTookEffect(intent)) return confirmOutcome(intent);
        }
        const intent = await sendAlongKeyChain(
          paymentIdempotencyKey(input.checkoutId, 'confirm'),
          (idempotencyKey) =>
            stripe.paymentIntents.confirm(
              input.paymentIntentId,
              { return_url: `${appUrl}/?checkout=${encodeURIComponent(input.checkoutId)}` },
              { idempotencyKey },
            ),
          async () => {
            const now = await stripe.paymentIntents.retrieve(input.paymentIntentId);
            return confirmTookEffect(now) ? now : undefined;
          },
        );
        return confirmOutcome(intent);
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        return classifyStripeError(err);
      }
    },

    /**
     * Deferred capture: moves the authorized money, just before the order is confirmed, for exactly
     * the authorized total. A retry reads first: an earlier capture that took effect is the answer,
     * never a second one. An authorization that is gone (Stripe cancels one nobody captured within
     * its validity, 7 days for cards) or a capture the bank refuses fails the checkout with
     * PAYMENT_CAPTURE_FAILED, and its undo releases everything else.
     */
    async capturePayment(input: { checkoutId: string; paymentIntentId: string; amount: number }): Promise<{ amountReceived: number }> {
      const notCapturable = (intent: Stripe.PaymentIntent) =>
        ApplicationFailure.nonRetryable(
          intent.status === 'canceled'
            ? 'The card authorization expired before the order could be confirmed; nothing was charged'
            : `The payment could not be captured: it is ${intent.status}, not authorized`,
          FailureCode.PAYMENT_CAPTURE_FAILED,
          { paymentIntentId: intent.id, status: intent.status, cancellationReason: intent.cancellation_reason },
        );
      try {
        const intent = await stripe.paymentIntents.retrieve(input.paymentIntentId);
        if (intent.status === 'succeeded') return { amountReceived: intent.amount_received };
        if (intent.status !== 'requires_capture') throw notCapturable(intent);
        const captured = await sendAlongKeyChain(
          paymentIdempotencyKey(input.checkoutId, 'capture'),
          (idempotencyKey) => stripe.paymentIntents.capture(input.paymentIntentId, { amount_to_capture: input.amount }, { idempotencyKey }),
          async () => {
            const now = await stripe.paymentIntents.retrieve(input.paymentIntentId);
            if (now.status === 'succeeded') return now;
            if (now.status === 'requires_capture') return undefined;
            throw notCapturable(now);
          },
        );
        return { amountReceived: captured.amount_received };
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        if (err instanceof Stripe.errors.StripeCardError || (err instanceof Stripe.errors.StripeInvalidRequestError && err.statusCode !== 409)) {
          // Declined at capture, or the authorization went away between our read and the capture.
          throw ApplicationFailure.nonRetryable(`The payment could not be captured: ${err.message}`, FailureCode.PAYMENT_CAPTURE_FAILED, { stripeCode: err.code });
        }
        throw err;
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
      const error = intent.last_payment_error;
      const failureCode = error?.decline_code ?? error?.code;
      return {
        status: toPaymentStatus(intent.status),
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
        // Stripe refusing to show the intent (unknown id, usually) is as final as a mismatch; 5xx and 409 are retried.
        if (err instanceof Stripe.errors.StripeInvalidRequestError && err.statusCode !== 409) {
          throw ApplicationFailure.nonRetryable(
            err.code === 'resource_missing'
              ? `Payment not verified for checkout ${input.checkoutId}: Stripe has no PaymentIntent ${input.paymentIntentId}`
              : `Payment not verified for checkout ${input.checkoutId}: Stripe refused to show PaymentIntent ${input.paymentIntentId}: ${err.message}`,
            FailureCode.PAYMENT_NOT_VERIFIED,
            { stripeCode: err.code },
          );
        }
        throw err;
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
     * Every run (a retry, or an operator's retry-compensation) reads before it writes: a refund or a
     * cancel an earlier run made is reported, never made again, and a refusal Stripe saved for a key
     * (a cancel refused while the payment was processing) is stepped past once it provably did nothing.
     */
    async refundPayment(input: { checkoutId: string; paymentIntentId: string }): Promise<UndoPaymentResult> {
      const intent = await stripe.paymentIntents.retrieve(input.paymentIntentId, { expand: ['latest_charge'] });
      switch (intent.status) {
        case 'canceled':
          // Cancelled with the undo's reason: an earlier run's cancel whose answer never arrived.
          return { action: intent.cancellation_reason === UNDO_CANCELLATION_REASON ? 'voided' : 'none' };
        case 'processing':
          return { action: 'pending' };
        case 'succeeded': {
          const earlier = await undoRefundOf(intent.id, input.checkoutId);
          if (earlier) return refunded(earlier);
          const charge = intent.latest_charge as Stripe.Charge | null;
          const remaining = intent.amount_received - (charge?.amount_refunded ?? 0);
          if (remaining <= 0) return { action: 'none' };
          // No amount: Stripe refunds what remains, so a second request, under any key, finds nothing left.
          const refund = await sendAlongKeyChain(
            paymentIdempotencyKey(input.checkoutId, 'refund'),
            (idempotencyKey) =>
              stripe.refunds.create(
                { payment_intent: intent.id, reason: 'requested_by_customer', metadata: { checkoutId: input.checkoutId } },
                { idempotencyKey },
              ),
            () => undoRefundOf(intent.id, input.checkoutId),
          );
          return refunded(refund);
        }
        default:
          await sendAlongKeyChain(
            paymentIdempotencyKey(input.checkoutId, 'void'),
            (idempotencyKey) => stripe.paymentIntents.cancel(intent.id, { cancellation_reason: UNDO_CANCELLATION_REASON }, { idempotencyKey }),
            async () => {
              const now = await stripe.paymentIntents.retrieve(intent.id);
              if (now.status === 'canceled') return now;
              if (CANCELABLE.has(now.status)) return undefined;
              throw new Error(`PaymentIntent ${intent.id} became ${now.status} while the undo was cancelling it; the next attempt decides again`);
            },
          );
          return { action: 'voided' };
      }
    },
  };
}
