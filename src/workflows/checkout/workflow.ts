import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { CheckoutEventDataByType, CheckoutEventType, EventBase } from '../../events/contract';
import { compensationCall, databaseWrite, localDatabaseWrite, localPublishEvent, paymentCall, publishEvent } from './activity-options';
import { Compensations } from './compensations';
import {
  cancelSignal,
  cancelUpdate,
  FailureCode,
  paymentEventSignal,
  retryCompensationsUpdate,
  searchAttributes,
  statusQuery,
  type CancelRequest,
  type CheckoutInput,
  type CheckoutResult,
  type CheckoutState,
  type CheckoutStatus,
  type CheckoutStep,
  type PaymentEventSignal,
} from './contract';

const stripe = proxyActivities<Activities>(paymentCall);
const remote = { db: proxyActivities<Activities>(databaseWrite), kafka: proxyActivities<Activities>(publishEvent) };
const local = { db: proxyLocalActivities<Activities>(localDatabaseWrite), kafka: proxyLocalActivities<Activities>(localPublishEvent) };

/** Checkouts started before this patch ran their database steps and publishes as regular activities. */
export const LOCAL_SHORT_STEPS_PATCH = 'local-activities-for-short-steps';

/** Thrown inside the saga when a cancel request is seen between steps. */
class CheckoutCancelled extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * Reserve stock -> capture payment -> create user -> issue SSO token -> confirm order. Each step's
 * undo is registered before the step; on a business failure, an infrastructure failure that
 * outlived its retries, or a cancel, the undos run newest first in a non-cancellable scope.
 */
export async function CheckoutWorkflow(input: CheckoutInput): Promise<CheckoutResult> {
  const { checkoutId, orderId } = input;
  const workflowId = workflowInfo().workflowId;
  const { db, kafka } = patched(LOCAL_SHORT_STEPS_PATCH) ? local : remote;
  const state: CheckoutState = {
    checkoutId,
    orderId,
    status: 'PENDING',
    step: null,
    amount: null,
    currency: null,
    customerEmail: input.customer.email,
    payment: { status: 'not_started' },
    compensations: [],
    version: 0,
    updatedAt: new Date().toISOString(),
  };
  let cancelRequest: CancelRequest | undefined;
  let retryRequested = false;
  let sequence = 0;
  const paymentEvents: PaymentEventSignal[] = [];

  const changed = () => {
    state.version += 1;
    state.updatedAt = new Date().toISOString();
  };
  const setStatus = (status: CheckoutStatus, step: CheckoutStep | null = state.step) => {
    state.status = status;
    state.step = step;
    changed();
    upsertSearchAttributes([
      { key: searchAttributes.status, value: status },
      { key: searchAttributes.step, value: step ?? 'none' },
    ]);
  };
  /** Cancel is accepted until the order is being confirmed; after that only a refund can undo it. */
  const cancellable = () =>
    cancelRequest !== undefined || (['PENDING', 'PROCESSING', 'REQUIRES_ACTION'] as CheckoutStatus[]).includes(state.status) && state.step !== 'confirmOrder';
  const requestCancel = (request: CancelRequest) => {
    if (cancellable()) cancelRequest ??= request;
  };
  const throwIfCancelled = () => {
    if (cancelRequest) throw new CheckoutCancelled(cancelRequest.reason ?? 'Cancelled on request');
  };

  setHandler(statusQuery, () => state);
  setHandler(paymentEventSignal, (event) => {
    paymentEvents.push(event);
  });
  setHandler(cancelSignal, requestCancel);
  setHandler(
    cancelUpdate,
    (request) => {
      requestCancel(request);
      return state;
    },
    {
      validator: (_request) => {
        if (!cancellable()) throw new Error(`The checkout is ${state.status} and can no longer be cancelled`);
      },
    },
  );
  setHandler(
    retryCompensationsUpdate,
    () => {
      retryRequested = true;
      return state;
    },
    {
      validator: () => {
        if (state.status !== 'NEEDS_ATTENTION') throw new Error(`The checkout is ${state.status}, not NEEDS_ATTENTION`);
      },
    },
  );

  const publish = async <T extends CheckoutEventType>(
    type: T,
    data: Omit<CheckoutEventDataByType[T], keyof EventBase>,
    idSuffix = '',
  ) => {
    sequence += 1;
    const base: EventBase = { orderId, checkoutId, customerEmail: input.customer.email, sequence };
    await kafka.publishEvent({
      event: { id: `${workflowId}:${type}${idSuffix}`, type, data: { ...base, ...data } as CheckoutEventDataByType[T] },
      time: new Date().toISOString(),
    });
  };

  const undo = proxyActivities<Activities>(compensationCall(input.compensationRetryWindowMs));
  const saga = new Compensations(state.compensations, changed);

  upsertSearchAttributes([{ key: searchAttributes.customerEmail, value: input.customer.email }]);
  setStatus('PROCESSING');
  try {
    await publish('checkout.started', { items: input.items });
    throwIfCancelled();

    saga.add('releaseStock', async () => {
      const released = await undo.releaseStock({ checkoutId });
      if (!released.released) return 'nothing reserved';
      await publish('stock.released', { lines: released.lines });
      return `released ${released.lines.map((l) => `${l.quantity} x ${l.sku}`).join(', ')}`;
    });
    setStatus('PROCESSING', 'reserveStock');
    const cart = await db.reserveStock({ checkoutId, orderId, workflowId, customer: input.customer, items: input.items });
    state.amount = cart.amount;
    state.currency = cart.currency;
    upsertSearchAttributes([{ key: searchAttributes.orderTotal, value: cart.amount }]);
    changed();
    await publish('stock.reserved', { amount: cart.amount, currency: cart.currency, lines: cart.lines });
    throwIfCancelled();

    setStatus('PROCESSING', 'capturePayment');
    const intent = await stripe.createPaymentIntent({
      checkoutId,
      orderId,
      amount: cart.amount,
      currency: cart.currency,
      paymentMethodId: input.paymentMethodId,
    });
    state.payment = { status: 'requires_confirmation', paymentIntentId: intent.paymentIntentId, ...(intent.clientSecret ? { clientSecret: intent.clientSecret } : {}) };
    // Registered before the confirm: a confirm that timed out may still have charged the card.
    saga.add('refundPayment', async () => {
      const result = await undo.refundPayment({ checkoutId, paymentIntentId: intent.paymentIntentId });
      if (result.action === 'refunded') {
        state.payment.status = 'refunded';
        await publish('payment.refunded', {
          paymentIntentId: intent.paymentIntentId,
          refundId: result.refundId!,
          amount: result.amount!,
          currency: result.currency!,
          totalRefunded: result.amount!,
          orderAmount: cart.amount,
          reason: 'checkout undone',
        });
        return `refunded ${result.amount} ${result.currency}`;
      }
      if (result.action === 'voided') {
        state.payment.status = 'canceled';
        await publish('payment.voided', { paymentIntentId: intent.paymentIntentId });
        return 'payment intent cancelled before capture';
      }
      return 'nothing was charged';
    });
    throwIfCancelled();
    const confirmed = await stripe.confirmPayment({ checkoutId, paymentIntentId: intent.paymentIntentId });
    await awaitPaymentOutcome(intent.paymentIntentId, confirmed.status, confirmed.nextActionUrl);
    await publish('payment.captured', { amount: cart.amount, currency: cart.currency, paymentIntentId: intent.paymentIntentId });
    throwIfCancelled();

    saga.add('deleteUser', async () => ((await undo.deleteUser({ checkoutId })).deleted ? 'account removed' : 'account kept (not created by this checkout)'));
    setStatus('PROCESSING', 'createUser');
    const user = await db.createUser({ checkoutId, email: input.customer.email, ...(input.customer.name ? { name: input.customer.name } : {}) });
    state.userId = user.userId;
    changed();
    if (user.created) await publish('user.created', { userId: user.userId });
    throwIfCancelled();

    saga.add('revokeSsoToken', async () => ((await undo.revokeSsoToken({ checkoutId })).revoked ? 'login token revoked' : 'no token to revoke'));
    setStatus('PROCESSING', 'issueSsoToken');
    state.sso = await db.issueSsoToken({ checkoutId, userId: user.userId, delivery: user.created ? 'redirect' : 'email' });
    changed();
    throwIfCancelled();

    setStatus('PROCESSING', 'confirmOrder');
    await db.confirmOrder({
      checkoutId,
      orderId,
      paymentIntentId: intent.paymentIntentId,
      amount: cart.amount,
      currency: cart.currency,
      eventSequence: sequence + 1,
    });
    setStatus('COMPLETED');
    await publish('order.confirmed', {
      amount: cart.amount,
      currency: cart.currency,
      lines: cart.lines,
      userId: user.userId,
      signInDelivery: user.created ? 'redirect' : 'email',
      ...(input.customer.name ? { customerName: input.customer.name } : {}),
    });
    log.info('checkout completed', { checkoutId, orderId });
    return { status: 'COMPLETED', orderId };
  } catch (err) {
    const cancelled = err instanceof CheckoutCancelled || isCancellation(err);
    state.failure = cancelled
      ? { code: FailureCode.CANCELLED, message: err instanceof CheckoutCancelled ? err.reason : 'Cancelled by an operator' }
      : toFailure(err, state.step);
    log.warn('checkout undoing', { checkoutId, code: state.failure.code, step: state.step });
    return await CancellationScope.nonCancellable(() => undoCheckout(cancelled ? 'CANCELLED' : 'FAILED'));
  }

  /** Waits for 3-D Secure or an async method to settle through the webhook signal, or gives up. */
  async function awaitPaymentOutcome(paymentIntentId: string, status: CheckoutState['payment']['status'], nextActionUrl?: string) {
    state.payment.status = status;
    if (nextActionUrl) state.payment.nextActionUrl = nextActionUrl;
    if (status === 'succeeded') return changed();
    const wasAction = status === 'requires_action';
    setStatus(wasAction ? 'REQUIRES_ACTION' : 'PROCESSING');
    const settled = () =>
      paymentEvents.find((e) => e.paymentIntentId === paymentIntentId && ['succeeded', 'requires_payment_method', 'canceled'].includes(e.intentStatus));
    const arrived = await condition(() => cancelRequest !== undefined || settled() !== undefined, input.paymentActionTimeoutMs);
    throwIfCancelled();
    // A webhook may be lost or late: ask Stripe once before giving up on a payment that did succeed.
    const outcome = arrived ? settled()!.intentStatus : await stripe.getPaymentStatus({ paymentIntentId });
    if (outcome === 'succeeded') {
      state.payment.status = 'succeeded';
      return setStatus('PROCESSING');
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

  /** Runs the undos; parks in NEEDS_ATTENTION while any fails, until an operator asks for a retry. */
  async function undoCheckout(finalStatus: 'FAILED' | 'CANCELLED'): Promise<CheckoutResult> {
    const failedStep = state.step;
    setStatus('COMPENSATING');
    for (let round = 1; ; round++) {
      const stillFailing = await saga.run();
      if (stillFailing.length === 0) break;
      // Reset before the status says NEEDS_ATTENTION: a retry accepted while the outcome is being
      // recorded (or its event waits for Kafka) must not be wiped out.
      retryRequested = false;
      setStatus('NEEDS_ATTENTION');
      log.error('compensation failed: checkout needs attention', { checkoutId, pending: stillFailing });
      await recordOutcome('NEEDS_ATTENTION', failedStep);
      await publish('checkout.needs_attention', { pendingCompensations: stillFailing }, `:${round}`);
      await condition(() => retryRequested);
      setStatus('COMPENSATING');
    }
    setStatus(finalStatus);
    await recordOutcome(finalStatus, failedStep);
    if (finalStatus === 'CANCELLED') {
      await publish('checkout.cancelled', { reason: state.failure!.message });
    } else {
      await publish('checkout.failed', { code: state.failure!.code, message: state.failure!.message, step: failedStep });
    }
    return { status: finalStatus, orderId, failure: state.failure! };
  }

  async function recordOutcome(status: 'FAILED' | 'CANCELLED' | 'NEEDS_ATTENTION', step: CheckoutStep | null) {
    await db.recordCheckoutOutcome({
      checkoutId,
      status,
      step,
      ...(state.failure ? { failure: state.failure } : {}),
      compensations: state.compensations,
      ...(state.payment.paymentIntentId ? { paymentIntentId: state.payment.paymentIntentId } : {}),
      paymentStatus: state.payment.status,
      lastEventSequence: sequence + 1,
    });
  }
}

/** A failure's `code` and a message a customer can read; technical detail stays in the history. */
function toFailure(err: unknown, step: CheckoutStep | null): { code: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type && (Object.values(FailureCode) as string[]).includes(cause.type)) {
    return { code: cause.type, message: cause.message };
  }
  return {
    code: FailureCode.STEP_FAILED,
    message: `A technical problem stopped the checkout at ${step ?? 'start'}; any payment taken has been returned`,
  };
}
