import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { FailureCode } from './contract';

const businessFailures = Object.values(FailureCode);

/**
 * One PostgreSQL transaction. Each takes milliseconds, so 10 s means the database is in trouble;
 * two minutes of retries rides out a failover, after which the step fails and the saga undoes.
 */
export const databaseWrite: ActivityOptions = {
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '2m',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', nonRetryableErrorTypes: businessFailures },
};

/**
 * One Stripe call. The SDK gives up after its own 10 s timeout; five minutes covers Stripe's usual
 * incidents. Retries reuse the checkout's idempotency key, so none of them can charge twice.
 */
export const paymentCall: ActivityOptions = {
  startToCloseTimeout: '20s',
  scheduleToCloseTimeout: '5m',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '20s', nonRetryableErrorTypes: businessFailures },
};

/**
 * One Kafka publish. An outcome event must never be lost, so a broker outage delays it (capped
 * backoff, up to a day) rather than failing a checkout the customer already paid for.
 */
export const publishEvent: ActivityOptions = {
  startToCloseTimeout: '15s',
  scheduleToCloseTimeout: '24h',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' },
};

/**
 * An undo. Retried for the configured window (COMPENSATION_RETRY_WINDOW_MS); after that the checkout
 * is parked in NEEDS_ATTENTION for an operator instead of retrying silently forever.
 */
export function compensationCall(retryWindowMs: number): ActivityOptions {
  return {
    startToCloseTimeout: '30s',
    scheduleToCloseTimeout: retryWindowMs,
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
  };
}

/**
 * The same database transactions and Kafka publishes, run as local activities: they take
 * milliseconds, are idempotent by their keys, and a crash between running one and recording it
 * only means it runs again, which their keys make harmless. Running them inside the workflow task
 * saves two server round trips and three history events per step. Stripe calls and undos stay
 * regular activities, so ops see every payment call and every compensation on its own.
 */
export const localDatabaseWrite: LocalActivityOptions = {
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '2m',
  retry: databaseWrite.retry!,
};

export const localPublishEvent: LocalActivityOptions = {
  startToCloseTimeout: '15s',
  scheduleToCloseTimeout: '24h',
  retry: publishEvent.retry!,
};

/**
 * An outcome event past the point of no return (order confirmed, or undone for good). Ten minutes of
 * retries per round, then the workflow marks the event pending for ops and starts another round:
 * such an event is delayed by an outage, never given up on, and never undoes a delivered order.
 */
export const publishOutcome: ActivityOptions = {
  startToCloseTimeout: '15s',
  scheduleToCloseTimeout: '10m',
  retry: publishEvent.retry!,
};

export const localPublishOutcome: LocalActivityOptions = {
  startToCloseTimeout: '15s',
  scheduleToCloseTimeout: '10m',
  retry: publishEvent.retry!,
};
