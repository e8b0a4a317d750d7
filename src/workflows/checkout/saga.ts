import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CheckoutEventType, OutcomeEvent } from '../../events/contract';
import { OrderEvents, outcomeEventId, type EventFields } from '../../events/outcome-events';
import { Compensations, describeFailure } from './compensations';
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
  type CompensationName,
  type PaymentEventSignal,
} from './contract';
import { checkoutActivities, checkoutShape, type CheckoutActivities, type Shape } from './shapes';

/** After the point of no return an outcome event is retried without end; between rounds the wait grows to this. */
const MAX_REPUBLISH_WAIT_MS = 10 * 60_000;

/** One forward step of the checkout, in a file of its own under steps/, next to nothing else. */
export interface SagaStep<Args, Result> {
  /** Its entry in CHECKOUT_STEPS: the status's `step` and the CheckoutStep search attribute while it runs. */
  name: CheckoutStep;
  /** Registers its undo (saga.onUndo) before whatever it may leave behind, runs, and reports what it did. */
  run(saga: CheckoutSaga, args: Args): Promise<Result>;
}

/** Thrown inside the saga when a cancel request is seen at a checkpoint. */
class CheckoutCancelled extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * What every step of a checkout shares: its state (the status query's answer), its shape and
 * activities, its events, its undo stack, and the rules of cancelling. A cancel (the `cancel` update,
 * the `cancel` signal, or from shape 3 Temporal's own cancellation) takes effect only at a
 * checkpoint, which stands after a step's reports and before the next step is scheduled.
 */
export class CheckoutSaga {
  readonly shape: Shape;
  readonly activities: CheckoutActivities;
  readonly workflowId = workflowInfo().workflowId;
  readonly state: CheckoutState;
  /** Stripe webhooks routed to this checkout, one entry per Stripe event id. */
  readonly paymentEvents: PaymentEventSignal[] = [];
  /** When the buyer's page last read the status (buyerPresent); a 3-D Secure wait is given up without them. */
  buyerLastSeenAt = Date.now();
  /** When the saga started waiting on a payment that did not succeed at once; bounds following it. */
  paymentFollowedSince: number | undefined;
  private cancelRequest: CancelRequest | undefined;
  private retryRequested = false;
  /** The last version written to the change feed. */
  private reportedVersion = 0;
  private readonly events: OrderEvents;
  private readonly compensations: Compensations;

  constructor(readonly input: CheckoutInput) {
    this.shape = checkoutShape();
    this.activities = checkoutActivities(this.shape, input.compensationRetryWindowMs);
    this.state = {
      checkoutId: input.checkoutId,
      orderId: input.orderId,
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
    this.events = new OrderEvents({ orderId: input.orderId, checkoutId: input.checkoutId, customerEmail: input.customer.email });
    this.compensations = new Compensations(this.state.compensations, () => this.changed(), () => this.report());
    this.listen();
  }

  get checkoutId(): string {
    return this.input.checkoutId;
  }

  get cancelRequested(): boolean {
    return this.cancelRequest !== undefined;
  }

  changed(): void {
    this.state.version += 1;
    this.state.updatedAt = new Date().toISOString();
  }

  setStatus(status: CheckoutStatus, step: CheckoutStep | null = this.state.step): void {
    this.state.status = status;
    this.state.step = step;
    this.changed();
    upsertSearchAttributes([
      { key: searchAttributes.status, value: status },
      { key: searchAttributes.step, value: step ?? 'none' },
    ]);
  }

  /**
   * Shape 4: writes the state to PostgreSQL's change feed when it changed since the last write, so
   * the API answers status, long-polls and Server-Sent Events without asking the workflow. Called
   * before the saga waits on anything (a step, a timer, a signal), which is when the state a
   * follower sees must be current. A report: a local activity, safe to run again.
   */
  async report(): Promise<void> {
    if (this.shape < 4 || this.state.version === this.reportedVersion) return;
    this.reportedVersion = this.state.version;
    await this.activities.report.db.recordCheckoutStatus({ state: this.state });
  }

  /** The one place a cancel takes effect. */
  checkpoint(): void {
    if (this.cancelRequest) throw new CheckoutCancelled(this.cancelRequest.reason ?? 'Cancelled on request');
  }

  /** Pushes an undo; it runs if anything later fails or the checkout is cancelled. */
  onUndo(name: CompensationName, undo: () => Promise<string>): void {
    this.compensations.add(name, undo);
  }

  /** Runs one step: its status, the step, then a checkpoint (but after the last, past which nothing is undone). */
  async step<Args, Result>(definition: SagaStep<Args, Result>, args: Args, opts: { last?: boolean } = {}): Promise<Result> {
    this.setStatus('PROCESSING', definition.name);
    await this.report();
    const result = await definition.run(this, args);
    if (opts.last) await this.report();
    else this.checkpoint();
    return result;
  }

  /** Builds the order's next event: id, sequence and envelope fixed now, however often it is sent. */
  event<T extends CheckoutEventType>(type: T, fields: EventFields<T>, idSuffix = ''): OutcomeEvent<T> {
    return this.events.next(type, outcomeEventId(this.workflowId, type, idSuffix), fields);
  }

  /** Reports an outcome on Kafka (a failure here is a failure of the step that reports). */
  async publish<T extends CheckoutEventType>(type: T, fields: EventFields<T>): Promise<void> {
    await this.activities.report.kafka.publishEvent({ event: this.event(type, fields), time: new Date().toISOString() });
  }

  /**
   * For events that report an ending nothing can undo any more (the order confirmed, the checkout
   * failed or cancelled after its undos): a Kafka outage delays them, however long it lasts, and
   * never turns into a compensation. While one is stuck, ops see `CheckoutStep="outcomeEventPending"`
   * in the Web UI and the worker counts the failed attempts (checkout_event_publish_failures_total).
   * `recordedAt` is the time a database write recorded, where there is one: the workflow's clock is
   * that of the workflow task, and a task Temporal runs again would re-send the event with another.
   */
  async publishUntilDelivered(event: OutcomeEvent, recordedAt?: string): Promise<void> {
    const time = recordedAt ?? new Date().toISOString();
    await CancellationScope.nonCancellable(async () => {
      for (let round = 1, wait = 10_000; ; round++, wait = Math.min(wait * 2, MAX_REPUBLISH_WAIT_MS)) {
        try {
          await this.activities.outcome.publishEvent({ event, time });
          if (this.state.outcomeEventPending) {
            delete this.state.outcomeEventPending;
            this.changed();
            upsertSearchAttributes([{ key: searchAttributes.step, value: this.state.step ?? 'none' }]);
            await this.report();
          }
          return;
        } catch (err) {
          this.state.outcomeEventPending = { type: event.type, failedRounds: round, lastError: describeFailure(err) };
          this.changed();
          upsertSearchAttributes([{ key: searchAttributes.step, value: 'outcomeEventPending' }]);
          log.error('outcome event not delivered yet; retrying without end', { checkoutId: this.checkoutId, type: event.type, round });
          await this.report();
          await sleep(wait);
        }
      }
    });
  }

  /** Shape 3 runs the forward steps out of reach of Temporal's cancellation: its cancel is a request (listen()). */
  forward<T>(steps: () => Promise<T>): Promise<T> {
    return this.shape >= 3 ? CancellationScope.nonCancellable(steps) : steps();
  }

  /**
   * Undoes everything done, newest first, out of reach of any cancellation; parks in
   * NEEDS_ATTENTION while an undo keeps failing, until an operator asks for a retry.
   */
  async undo(err: unknown): Promise<CheckoutResult> {
    const cancelled = err instanceof CheckoutCancelled || isCancellation(err);
    this.state.failure = cancelled
      ? { code: FailureCode.CANCELLED, message: err instanceof CheckoutCancelled ? err.reason : 'Cancelled by an operator' }
      : toFailure(err, this.state.step);
    log.warn('checkout undoing', { checkoutId: this.checkoutId, code: this.state.failure.code, step: this.state.step });
    return CancellationScope.nonCancellable(() => this.undoAll(cancelled ? 'CANCELLED' : 'FAILED'));
  }

  private async undoAll(finalStatus: 'FAILED' | 'CANCELLED'): Promise<CheckoutResult> {
    const failedStep = this.state.step;
    this.setStatus('COMPENSATING');
    await this.report();
    for (let round = 1; ; round++) {
      const stillFailing = await this.compensations.run();
      if (stillFailing.length === 0) break;
      // Reset before the status says NEEDS_ATTENTION: a retry accepted while the outcome is being
      // recorded (or its event waits for Kafka) must not be wiped out.
      this.retryRequested = false;
      this.setStatus('NEEDS_ATTENTION');
      await this.report();
      log.error('compensation failed: checkout needs attention', { checkoutId: this.checkoutId, pending: stillFailing });
      const attention = this.event('checkout.needs_attention', { pendingCompensations: stillFailing }, `:${round}`);
      await this.recordOutcome('NEEDS_ATTENTION', failedStep, attention);
      await this.publishUntilDelivered(attention);
      await condition(() => this.retryRequested);
      this.setStatus('COMPENSATING');
      await this.report();
    }
    this.setStatus(finalStatus);
    await this.report();
    const failure = this.state.failure!;
    const ending =
      finalStatus === 'CANCELLED'
        ? this.event('checkout.cancelled', { reason: failure.message })
        : this.event('checkout.failed', { code: failure.code, message: failure.message, step: failedStep });
    const recordedAt = await this.recordOutcome(finalStatus, failedStep, ending);
    await this.publishUntilDelivered(ending, recordedAt);
    return { status: finalStatus, orderId: this.input.orderId, failure };
  }

  /** Writes the outcome and the sequence of the event that announces it; returns when the end was first recorded (shapes 1 and 2 recorded none). */
  private async recordOutcome(status: 'FAILED' | 'CANCELLED' | 'NEEDS_ATTENTION', step: CheckoutStep | null, announcedBy: OutcomeEvent): Promise<string | undefined> {
    const recorded = await this.activities.report.db.recordCheckoutOutcome({
      checkoutId: this.checkoutId,
      status,
      step,
      ...(this.state.failure ? { failure: this.state.failure } : {}),
      compensations: this.state.compensations,
      ...(this.state.payment.paymentIntentId ? { paymentIntentId: this.state.payment.paymentIntentId } : {}),
      paymentStatus: this.state.payment.status,
      lastEventSequence: announcedBy.data.sequence,
    });
    return recorded?.recordedAt;
  }

  /** Cancel is accepted until the order is being confirmed; after that only a refund can undo it. */
  private cancellable(): boolean {
    const open: CheckoutStatus[] = ['PENDING', 'PROCESSING', 'REQUIRES_ACTION'];
    return this.cancelRequest !== undefined || (open.includes(this.state.status) && this.state.step !== 'confirmOrder');
  }

  private requestCancel(request: CancelRequest): void {
    if (this.cancellable()) this.cancelRequest ??= request;
    else log.warn('cancel requested too late: the order is being confirmed', { checkoutId: this.checkoutId, requestedBy: request.requestedBy });
  }

  private listen(): void {
    setHandler(statusQuery, () => this.state);
    setHandler(paymentEventSignal, (event) => {
      // Stripe delivers at least once and the webhook route may signal twice: one entry per event.
      if (!this.paymentEvents.some((e) => e.stripeEventId === event.stripeEventId)) this.paymentEvents.push(event);
    });
    setHandler(buyerPresentSignal, () => {
      this.buyerLastSeenAt = Date.now();
    });
    setHandler(cancelSignal, (request) => this.requestCancel(request));
    setHandler(
      cancelUpdate,
      (request) => {
        this.requestCancel(request);
        return this.state;
      },
      {
        validator: (_request: CancelRequest) => {
          if (!this.cancellable()) throw new Error(`The checkout is ${this.state.status} and can no longer be cancelled`);
        },
      },
    );
    setHandler(
      retryCompensationsUpdate,
      () => {
        this.retryRequested = true;
        return this.state;
      },
      {
        validator: () => {
          if (this.state.status !== 'NEEDS_ATTENTION') throw new Error(`The checkout is ${this.state.status}, not NEEDS_ATTENTION`);
        },
      },
    );
    if (this.shape >= 3) {
      // Temporal's own cancel (the Web UI's button, `temporal workflow cancel`) asks as the update and
      // the signal do: the step in flight finishes, no later step starts, everything done is undone.
      CancellationScope.current().cancelRequested.catch(() => this.requestCancel({ reason: 'Cancelled in Temporal by an operator', requestedBy: 'temporal' }));
    }
  }
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


