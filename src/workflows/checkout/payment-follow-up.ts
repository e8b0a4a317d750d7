import { ApplicationFailure, condition } from '@temporalio/workflow';
import { FailureCode, type CheckoutStatus, type PaymentStatus } from './contract';
import type { CheckoutSaga } from './saga';

/** Without PAYMENT_SETTLEMENT_HORIZON_MS / PAYMENT_RECONCILE_INTERVAL_MS in the input (sagas started without them). */
export const DEFAULT_SETTLEMENT_HORIZON_MS = 14 * 24 * 60 * 60_000;
export const DEFAULT_RECONCILE_INTERVAL_MS = 60_000;
/** Asking Stripe about a payment that takes days more often than hourly only adds history. */
export const MAX_RECONCILE_INTERVAL_MS = 60 * 60_000;

/** Where a payment stands, as a confirm or Stripe (reconcilePayment) answered. */
export interface ObservedPayment {
  status: PaymentStatus;
  failureCode?: string;
  failureMessage?: string;
}

/**
 * Shape 3: follows a payment that did not succeed at once (3-D Secure, or a method that settles
 * later) until Stripe says how it ended. A webhook's signal only wakes the saga early; what counts
 * is Stripe's answer to reconcilePayment, so a forged or stale signal cannot move the checkout.
 * A challenge is given up after PAYMENT_ACTION_TIMEOUT_MS, or earlier once the buyer stopped
 * following the checkout (PAYMENT_ABANDON_AFTER_MS); a processing payment is the bank at work and
 * is followed up to PAYMENT_SETTLEMENT_HORIZON_MS.
 */
export async function followPayment(saga: CheckoutSaga, paymentIntentId: string, first: ObservedPayment): Promise<void> {
  const { input } = saga;
  const since = Date.now();
  const actionDeadline = since + input.paymentActionTimeoutMs;
  const settleDeadline = since + (input.paymentSettlementHorizonMs ?? DEFAULT_SETTLEMENT_HORIZON_MS);
  const abandonDeadline = () => (input.paymentAbandonAfterMs ? saga.buyerLastSeenAt + input.paymentAbandonAfterMs : Number.POSITIVE_INFINITY);
  let askAgainIn = input.paymentReconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS;
  let neededAction = false;
  let payment = first;
  // Signals up to here are answered by what Stripe says next; one arriving while Stripe is asked
  // wakes the saga to ask again, so no hint is ever lost between two reads.
  let signalsSeen = saga.paymentEvents.length;
  for (;;) {
    showPayment(saga, payment);
    // Authorized (deferred capture) is as far as the payment step goes: the money moves at confirmOrder.
    if (payment.status === 'succeeded' || payment.status === 'authorized') return;
    if (payment.status !== 'requires_action' && payment.status !== 'processing') throw paymentFailure(payment, neededAction);
    saga.paymentFollowedSince ??= since;
    const now = Date.now();
    const onBuyer = payment.status === 'requires_action';
    neededAction ||= onBuyer;
    if (onBuyer && now >= actionDeadline) throw ApplicationFailure.nonRetryable('The payment was not completed in time', FailureCode.PAYMENT_ACTION_TIMEOUT);
    if (onBuyer && now >= abandonDeadline()) {
      throw ApplicationFailure.nonRetryable('The card check was left unfinished, so the items went back on sale', FailureCode.PAYMENT_ABANDONED);
    }
    if (!onBuyer && now >= settleDeadline) {
      throw ApplicationFailure.nonRetryable('The payment did not settle in time', FailureCode.PAYMENT_SETTLEMENT_TIMEOUT);
    }
    const deadline = onBuyer ? Math.min(actionDeadline, abandonDeadline()) : settleDeadline;
    // The buyer needs the challenge's URL, the follower the status, before the saga waits.
    await saga.report();
    const woken = await condition(() => saga.cancelRequested || saga.paymentEvents.length > signalsSeen, Math.max(1, Math.min(deadline, now + askAgainIn) - now));
    saga.checkpoint();
    if (!woken) askAgainIn = Math.min(askAgainIn * 2, MAX_RECONCILE_INTERVAL_MS);
    signalsSeen = saga.paymentEvents.length;
    payment = await saga.activities.stripe.reconcilePayment({ paymentIntentId });
  }
}

/**
 * Only a real change bumps the version: asking Stripe and hearing the same answer is no news to a
 * long-poll. The challenge's link stays out of the state (and history): the API asks Stripe for it.
 */
function showPayment(saga: CheckoutSaga, payment: ObservedPayment): void {
  const { state } = saga;
  const news = state.payment.status !== payment.status;
  state.payment.status = payment.status;
  const status: CheckoutStatus = payment.status === 'requires_action' ? 'REQUIRES_ACTION' : 'PROCESSING';
  if (state.status !== status) saga.setStatus(status);
  else if (news) saga.changed();
}

/** How a payment that Stripe says did not succeed fails the checkout, in the customer's words. */
function paymentFailure(payment: ObservedPayment, neededAction: boolean): ApplicationFailure {
  if (payment.status === 'canceled') return ApplicationFailure.nonRetryable(payment.failureMessage ?? 'The payment was cancelled', FailureCode.PAYMENT_FAILED);
  if (neededAction || payment.failureCode === 'payment_intent_authentication_failure') {
    return ApplicationFailure.nonRetryable(payment.failureMessage ?? 'The card authentication failed', FailureCode.PAYMENT_AUTHENTICATION_FAILED);
  }
  if (payment.status === 'failed') return ApplicationFailure.nonRetryable(payment.failureMessage ?? 'The payment failed', FailureCode.PAYMENT_DECLINED);
  return ApplicationFailure.nonRetryable(`The payment is in a state the checkout cannot complete (${payment.status})`, FailureCode.PAYMENT_FAILED);
}

/** Shapes 1 and 2: waits for the webhook signal, asks Stripe once at the timeout, then gives up. */
export async function awaitPaymentOutcome(saga: CheckoutSaga, paymentIntentId: string, first: ObservedPayment): Promise<void> {
  const { state, input } = saga;
  state.payment.status = first.status;
  if (first.status === 'succeeded') return saga.changed();
  const wasAction = first.status === 'requires_action';
  saga.setStatus(wasAction ? 'REQUIRES_ACTION' : 'PROCESSING');
  const settled = () =>
    saga.paymentEvents.find((e) => e.paymentIntentId === paymentIntentId && ['succeeded', 'requires_payment_method', 'canceled'].includes(e.intentStatus));
  const arrived = await condition(() => saga.cancelRequested || settled() !== undefined, input.paymentActionTimeoutMs);
  saga.checkpoint();
  const outcome = arrived ? settled()!.intentStatus : await saga.activities.stripe.getPaymentStatus({ paymentIntentId });
  if (outcome === 'succeeded') {
    state.payment.status = 'succeeded';
    return saga.setStatus('PROCESSING');
  }
  state.payment.status = 'failed';
  const event = settled();
  if (!arrived) {
    throw ApplicationFailure.nonRetryable('The payment was not completed in time', FailureCode.PAYMENT_ACTION_TIMEOUT);
  }
  if (wasAction && outcome === 'requires_payment_method') {
    throw ApplicationFailure.nonRetryable(event?.failureMessage ?? 'The card authentication failed', FailureCode.PAYMENT_AUTHENTICATION_FAILED);
  }
  throw ApplicationFailure.nonRetryable(event?.failureMessage ?? 'The payment failed', outcome === 'canceled' ? FailureCode.PAYMENT_FAILED : FailureCode.PAYMENT_DECLINED);
}
