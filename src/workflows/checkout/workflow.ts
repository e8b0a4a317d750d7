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
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { CheckoutEventDataByType, CheckoutEventType, EventBase, OutcomeEvent } from '../../events/contract';
import {
  compensationCall,
  databaseWrite,
  localDatabaseWrite,
  localPublishEvent,
  localPublishOutcome,
  paymentCall,
  publishEvent,
  publishOutcome,
} from './activity-options';
import { Compensations } from './compensations';
import {
  buyerPresentSignal,
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
  type PaymentStatus,
} from './contract';

const stripe = proxyActivities<Activities>(paymentCall);
const remote = { db: proxyActivities<Activities>(databaseWrite), kafka: proxyActivities<Activities>(publishEvent) };
const local = { db: proxyLocalActivities<Activities>(localDatabaseWrite), kafka: proxyLocalActivities<Activities>(localPublishEvent) };

/** Checkouts started before this patch ran their database steps and publishes as regular activities. */
export const LOCAL_SHORT_STEPS_PATCH = 'local-activities-for-short-steps';

/**
 * Shape 3. A local activity does its work before the workflow task that ran it is recorded. When
 * that task fails (a worker dies, or Temporal refuses to complete a workflow that was cancelled
 * meanwhile) and a cancel arrives before the retry, the retry takes the cancel path, and what the
 * local activities did is never undone: ops saw an order confirmed, then refunded, with its stock
 * consumed and the new account left behind. So from shape 3 every forward step is a regular
 * activity, scheduled only after the saga looked for a cancel; local activities only report what
 * has already happened (Kafka publishes, outcome records) and run before that look, so a retried
 * task runs them again on the same path. Shape 3 also makes Temporal's own cancel a cancel request
 * like the update and the signal, verifies the payment with Stripe before the order is confirmed,
 * treats a payment signal as a hint to ask Stripe, and follows a payment that is still processing.
 */
export const STEPS_AS_ACTIVITIES_PATCH = 'forward-steps-as-activities';

/** Without PAYMENT_SETTLEMENT_HORIZON_MS / PAYMENT_RECONCILE_INTERVAL_MS in the input (sagas started without the API). */
const DEFAULT_SETTLEMENT_HORIZON_MS = 14 * 24 * 60 * 60_000;
const DEFAULT_RECONCILE_INTERVAL_MS = 60_000;
/** Asking Stripe about a payment that takes days more often than hourly only adds history. */
const MAX_RECONCILE_INTERVAL_MS = 60 * 60_000;
/** After the point of no return an outcome event is retried without end; between rounds the wait grows to this. */
const MAX_REPUBLISH_WAIT_MS = 10 * 60_000;

/** Thrown inside the saga when a cancel request is seen between steps. */
class CheckoutCancelled extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

interface ObservedPayment {
  status: PaymentStatus;
  nextActionUrl?: string;
  failureCode?: string;
  failureMessage?: string;
}

/**
 * Reserve stock -> capture payment -> create user -> issue SSO token -> confirm order. Each step's
 * undo is registered before the step; on a business failure, an infrastructure failure that
 * outlived its retries, or a cancel, the undos run newest first in a non-cancellable scope.
 */
export async function CheckoutWorkflow(input: CheckoutInput): Promise<CheckoutResult> {
  const { checkoutId, orderId } = input;
  const workflowId = workflowInfo().workflowId;
  const shape = patched(STEPS_AS_ACTIVITIES_PATCH) ? 3 : patched(LOCAL_SHORT_STEPS_PATCH) ? 2 : 1;
  /** Forward steps: regular activities, except in shape 2 (see STEPS_AS_ACTIVITIES_PATCH). */
  const steps = shape === 2 ? local.db : remote.db;
  /** Reports of what happened (publishes, outcome records): local from shape 2 on. */
  const report = shape === 1 ? remote : local;
  const outcomeKafka = shape === 1 ? proxyActivities<Activities>(publishOutcome) : proxyLocalActivities<Activities>(localPublishOutcome);
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
  let buyerLastSeenAt = Date.now();
  /** When the saga started waiting on a payment that did not succeed at once; bounds following it. */
  let paymentFollowedSince: number | undefined;

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
    else log.warn('cancel requested too late: the order is being confirmed', { checkoutId, requestedBy: request.requestedBy });
  };
  /**
   * The one place a cancel takes effect. From shape 3 it stands right before a forward step is
   * scheduled, after the reports of the step before: whatever ran in this workflow task is then
   * either a report (safe to run again) or already has its undo registered.
   */
  const throwIfCancelled = () => {
    if (cancelRequest) throw new CheckoutCancelled(cancelRequest.reason ?? 'Cancelled on request');
  };

  setHandler(statusQuery, () => state);
  setHandler(paymentEventSignal, (event) => {
    // Stripe delivers at least once and the webhook route may signal twice: one entry per event.
    if (!paymentEvents.some((e) => e.stripeEventId === event.stripeEventId)) paymentEvents.push(event);
  });
  setHandler(buyerPresentSignal, () => {
    buyerLastSeenAt = Date.now();
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
  if (shape === 3) {
    // Temporal's own cancel (the Web UI's button, `temporal workflow cancel`) asks like the update
    // and the signal do: the step in flight finishes, no later step starts, everything done is undone.
    CancellationScope.current().cancelRequested.catch(() => requestCancel({ reason: 'Cancelled in Temporal by an operator', requestedBy: 'temporal' }));
  }

  /** Builds the next outcome event: its id and sequence are fixed here, once, however often it is sent. */
  /**
   * `time` is, where there is one, the moment a database write recorded (first write wins): the
   * workflow's clock is that of the workflow task, and a task that Temporal makes run again (a signal
   * arriving as the workflow completes) would re-send the event with another time.
   */
  const outcomeEvent = <T extends CheckoutEventType>(
    type: T,
    data: Omit<CheckoutEventDataByType[T], keyof EventBase>,
    idSuffix = '',
    recordedAt?: string,
  ): { event: OutcomeEvent; time: string } => {
    sequence += 1;
    const base: EventBase = { orderId, checkoutId, customerEmail: input.customer.email, sequence };
    return {
      event: { id: `${workflowId}:${type}${idSuffix}`, type, data: { ...base, ...data } as CheckoutEventDataByType[T] },
      time: recordedAt ?? new Date().toISOString(),
    };
  };
  const publish = async <T extends CheckoutEventType>(type: T, data: Omit<CheckoutEventDataByType[T], keyof EventBase>, idSuffix = '') => {
    await report.kafka.publishEvent(outcomeEvent(type, data, idSuffix));
  };
  /**
   * For events that report an ending nothing can undo any more (the order confirmed, the checkout
   * failed or cancelled after its undos): a Kafka outage delays them, however long it lasts, and
   * never turns into a compensation. While one is stuck, ops see `CheckoutStep="outcomeEventPending"`
   * in the Web UI and the worker counts the failed attempts (checkout_event_publish_failures_total).
   */
  const publishUntilDelivered = async <T extends CheckoutEventType>(
    type: T,
    data: Omit<CheckoutEventDataByType[T], keyof EventBase>,
    { idSuffix = '', recordedAt }: { idSuffix?: string; recordedAt?: string | undefined } = {},
  ) => {
    const pending = outcomeEvent(type, data, idSuffix, recordedAt);
    for (let round = 1, wait = 10_000; ; round++, wait = Math.min(wait * 2, MAX_REPUBLISH_WAIT_MS)) {
      try {
        await outcomeKafka.publishEvent(pending);
        if (state.outcomeEventPending) {
          delete state.outcomeEventPending;
          changed();
          upsertSearchAttributes([{ key: searchAttributes.step, value: state.step ?? 'none' }]);
        }
        return;
      } catch (err) {
        state.outcomeEventPending = { type, failedRounds: round, lastError: describeFailure(err) };
        changed();
        upsertSearchAttributes([{ key: searchAttributes.step, value: 'outcomeEventPending' }]);
        log.error('outcome event not delivered yet; retrying without end', { checkoutId, type, round });
        await sleep(wait);
      }
    }
  };

  const undo = proxyActivities<Activities>(compensationCall(input.compensationRetryWindowMs));
  const saga = new Compensations(state.compensations, changed);

  upsertSearchAttributes([{ key: searchAttributes.customerEmail, value: input.customer.email }]);
  setStatus('PROCESSING');
  let confirmed: Pick<CheckoutEventDataByType['order.confirmed'], 'amount' | 'currency' | 'lines' | 'userId' | 'signInDelivery'> & { confirmedAt?: string };
  try {
    // Shape 3 runs the steps out of reach of Temporal's cancellation: its cancel is a request, above.
    confirmed = shape === 3 ? await CancellationScope.nonCancellable(forwardSteps) : await forwardSteps();
  } catch (err) {
    const cancelled = err instanceof CheckoutCancelled || isCancellation(err);
    state.failure = cancelled
      ? { code: FailureCode.CANCELLED, message: err instanceof CheckoutCancelled ? err.reason : 'Cancelled by an operator' }
      : toFailure(err, state.step);
    log.warn('checkout undoing', { checkoutId, code: state.failure.code, step: state.step });
    return await CancellationScope.nonCancellable(() => undoCheckout(cancelled ? 'CANCELLED' : 'FAILED'));
  }
  // Past the point of no return: the order is confirmed, whatever happens to the event.
  const { confirmedAt, ...order } = confirmed;
  await CancellationScope.nonCancellable(() =>
    publishUntilDelivered('order.confirmed', { ...order, ...(input.customer.name ? { customerName: input.customer.name } : {}) }, { recordedAt: confirmedAt }),
  );
  log.info('checkout completed', { checkoutId, orderId });
  return { status: 'COMPLETED', orderId };

  async function forwardSteps() {
    await publish('checkout.started', { items: input.items });
    throwIfCancelled();

    saga.add('releaseStock', async () => {
      const released = await undo.releaseStock({ checkoutId });
      if (!released.released) return 'nothing reserved';
      await publish('stock.released', { lines: released.lines });
      return `released ${released.lines.map((l) => `${l.quantity} x ${l.sku}`).join(', ')}`;
    });
    setStatus('PROCESSING', 'reserveStock');
    const cart = await steps.reserveStock({ checkoutId, orderId, workflowId, customer: input.customer, items: input.items });
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
    saga.add('refundPayment', () => undoPayment(intent.paymentIntentId, cart.amount));
    throwIfCancelled();
    const attempt = await stripe.confirmPayment({ checkoutId, paymentIntentId: intent.paymentIntentId });
    if (shape === 3) await followPayment(intent.paymentIntentId, attempt);
    else await awaitPaymentOutcome(intent.paymentIntentId, attempt.status, attempt.nextActionUrl);
    await publish('payment.captured', { amount: cart.amount, currency: cart.currency, paymentIntentId: intent.paymentIntentId });
    throwIfCancelled();

    saga.add('deleteUser', async () => ((await undo.deleteUser({ checkoutId })).deleted ? 'account removed' : 'account kept (not created by this checkout)'));
    setStatus('PROCESSING', 'createUser');
    const user = await steps.createUser({ checkoutId, email: input.customer.email, ...(input.customer.name ? { name: input.customer.name } : {}) });
    state.userId = user.userId;
    changed();
    // Only an account this checkout created may be signed into from it; its owner gets a link by email.
    const signInDelivery = user.created ? ('redirect' as const) : ('email' as const);
    if (user.created) await publish('user.created', { userId: user.userId });
    throwIfCancelled();

    saga.add('revokeSsoToken', async () => ((await undo.revokeSsoToken({ checkoutId })).revoked ? 'login token revoked' : 'no token to revoke'));
    setStatus('PROCESSING', 'issueSsoToken');
    state.sso = await steps.issueSsoToken({ checkoutId, userId: user.userId, delivery: signInDelivery });
    changed();
    throwIfCancelled();

    // The point of no return: from here a cancel is refused and only a refund can undo the order.
    setStatus('PROCESSING', 'confirmOrder');
    // A signal or a webhook never confirms an order on its own: Stripe must hold the money first.
    if (shape === 3) await stripe.verifyPayment({ checkoutId, paymentIntentId: intent.paymentIntentId, amount: cart.amount, currency: cart.currency });
    // Shapes 1 and 2 recorded no time here (their confirmOrder returned nothing).
    const recorded = await steps.confirmOrder({
      checkoutId,
      orderId,
      paymentIntentId: intent.paymentIntentId,
      amount: cart.amount,
      currency: cart.currency,
      eventSequence: sequence + 1,
    });
    setStatus('COMPLETED');
    return { amount: cart.amount, currency: cart.currency, lines: cart.lines, userId: user.userId, signInDelivery, ...(recorded ? { confirmedAt: recorded.confirmedAt } : {}) };
  }

  /**
   * The payment step's undo. A payment still processing at Stripe cannot be cancelled or refunded
   * yet: it is followed (Stripe asked again, waits doubling) until it settles, up to the settlement
   * horizon; past that the undo fails and the checkout needs an operator.
   */
  async function undoPayment(paymentIntentId: string, orderAmount: number): Promise<string> {
    const giveUpAt = (paymentFollowedSince ?? Date.now()) + (input.paymentSettlementHorizonMs ?? DEFAULT_SETTLEMENT_HORIZON_MS);
    for (let wait = input.paymentReconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS; ; wait = Math.min(wait * 2, MAX_RECONCILE_INTERVAL_MS)) {
      const result = await undo.refundPayment({ checkoutId, paymentIntentId });
      if (result.action === 'refunded') {
        state.payment.status = 'refunded';
        await publish('payment.refunded', {
          paymentIntentId,
          refundId: result.refundId!,
          amount: result.amount!,
          currency: result.currency!,
          totalRefunded: result.amount!,
          orderAmount,
          reason: 'checkout undone',
        });
        return `refunded ${result.amount} ${result.currency}`;
      }
      if (result.action === 'voided') {
        state.payment.status = 'canceled';
        await publish('payment.voided', { paymentIntentId });
        return 'payment intent cancelled before capture';
      }
      if (result.action !== 'pending') return 'nothing was charged';
      if (Date.now() >= giveUpAt) {
        throw ApplicationFailure.nonRetryable('The payment is still processing at Stripe: it can be neither cancelled nor refunded until it settles');
      }
      state.payment.status = 'processing';
      changed();
      await sleep(Math.min(wait, giveUpAt - Date.now()));
    }
  }

  /**
   * Shape 3: follows a payment that did not succeed at once (3-D Secure, or a method that settles
   * later) until Stripe says how it ended. A webhook's signal only wakes the saga early; what counts
   * is Stripe's answer to reconcilePayment, so a forged or stale signal cannot move the checkout.
   * A challenge is given up after PAYMENT_ACTION_TIMEOUT_MS, or earlier once the buyer stopped
   * following the checkout (PAYMENT_ABANDON_AFTER_MS); a processing payment is the bank at work and
   * is followed up to PAYMENT_SETTLEMENT_HORIZON_MS.
   */
  async function followPayment(paymentIntentId: string, first: ObservedPayment): Promise<void> {
    const since = Date.now();
    const actionDeadline = since + input.paymentActionTimeoutMs;
    const settleDeadline = since + (input.paymentSettlementHorizonMs ?? DEFAULT_SETTLEMENT_HORIZON_MS);
    const abandonDeadline = () => (input.paymentAbandonAfterMs ? buyerLastSeenAt + input.paymentAbandonAfterMs : Number.POSITIVE_INFINITY);
    let askAgainIn = input.paymentReconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS;
    let neededAction = false;
    let payment = first;
    // Signals up to here are answered by what Stripe says next; one arriving while Stripe is asked
    // wakes the saga to ask again, so no hint is ever lost between two reads.
    let signalsSeen = paymentEvents.length;
    for (;;) {
      showPayment(payment);
      if (payment.status === 'succeeded') return;
      if (payment.status !== 'requires_action' && payment.status !== 'processing') throw paymentFailure(payment, neededAction);
      paymentFollowedSince ??= since;
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
      const woken = await condition(() => cancelRequest !== undefined || paymentEvents.length > signalsSeen, Math.max(1, Math.min(deadline, now + askAgainIn) - now));
      throwIfCancelled();
      if (!woken) askAgainIn = Math.min(askAgainIn * 2, MAX_RECONCILE_INTERVAL_MS);
      signalsSeen = paymentEvents.length;
      payment = await stripe.reconcilePayment({ paymentIntentId });
    }
  }

  /** Only a real change bumps the version: asking Stripe and hearing the same answer is no news to a long-poll. */
  function showPayment(payment: ObservedPayment) {
    const news = state.payment.status !== payment.status || (payment.nextActionUrl !== undefined && payment.nextActionUrl !== state.payment.nextActionUrl);
    state.payment.status = payment.status;
    if (payment.nextActionUrl) state.payment.nextActionUrl = payment.nextActionUrl;
    const status: CheckoutStatus = payment.status === 'requires_action' ? 'REQUIRES_ACTION' : 'PROCESSING';
    if (state.status !== status) setStatus(status);
    else if (news) changed();
  }

  /** Shapes 1 and 2: waits for the webhook signal, asks Stripe once at the timeout, then gives up. */
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
      await publishUntilDelivered('checkout.needs_attention', { pendingCompensations: stillFailing }, { idSuffix: `:${round}` });
      await condition(() => retryRequested);
      setStatus('COMPENSATING');
    }
    setStatus(finalStatus);
    const recordedAt = await recordOutcome(finalStatus, failedStep);
    if (finalStatus === 'CANCELLED') {
      await publishUntilDelivered('checkout.cancelled', { reason: state.failure!.message }, { recordedAt });
    } else {
      await publishUntilDelivered('checkout.failed', { code: state.failure!.code, message: state.failure!.message, step: failedStep }, { recordedAt });
    }
    return { status: finalStatus, orderId, failure: state.failure! };
  }

  /** The time the outcome was first recorded (shapes 1 and 2: none, their activity returned nothing). */
  async function recordOutcome(status: 'FAILED' | 'CANCELLED' | 'NEEDS_ATTENTION', step: CheckoutStep | null): Promise<string | undefined> {
    const recorded = await report.db.recordCheckoutOutcome({
      checkoutId,
      status,
      step,
      ...(state.failure ? { failure: state.failure } : {}),
      compensations: state.compensations,
      ...(state.payment.paymentIntentId ? { paymentIntentId: state.payment.paymentIntentId } : {}),
      paymentStatus: state.payment.status,
      lastEventSequence: sequence + 1,
    });
    return recorded?.recordedAt;
  }
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

/** A failure's `code` and a message a customer can read; technical detail stays in the history. */
function toFailure(err: unknown, step: CheckoutStep | null): { code: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type === FailureCode.PAYMENT_NOT_VERIFIED) {
    // The activity's message names intents and amounts for ops (it stays in the history); the buyer reads this.
    return { code: cause.type, message: 'The payment could not be confirmed with the payment provider; any money taken has been returned' };
  }
  if (cause instanceof ApplicationFailure && cause.type && (Object.values(FailureCode) as string[]).includes(cause.type)) {
    return { code: cause.type, message: cause.message };
  }
  return {
    code: FailureCode.STEP_FAILED,
    message: `A technical problem stopped the checkout at ${step ?? 'start'}; any payment taken has been returned`,
  };
}

function describeFailure(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}
