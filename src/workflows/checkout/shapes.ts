import { patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
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

/**
 * The released shapes of CheckoutWorkflow. A checkout keeps the shape it started with for its whole
 * run, so a deploy never changes the commands of a running checkout; every shape's recorded
 * histories replay in test/histories.
 *
 * 1: every step, publish and record a regular activity.
 * 2: database steps, publishes and records as local activities.
 * 3: forward steps regular activities again. A local activity does its work before the workflow
 *    task that ran it is recorded; when that task failed (a worker died, or Temporal refused to
 *    complete a workflow cancelled meanwhile) and a cancel arrived before the retry, the retry took
 *    the cancel path and the local activities' work was never undone (an order confirmed, then
 *    refunded, its stock consumed and its new account left behind). In shape 3 local activities only
 *    report what already happened, before the saga's cancel checkpoint, so a retried task runs them
 *    again on the same path. Shape 3 also makes Temporal's own cancel a cancel request, verifies the
 *    payment with Stripe before the order is confirmed, treats a payment signal as a hint to ask
 *    Stripe, and follows a payment that is still processing.
 * 4: shape 3, plus: every status change is reported to PostgreSQL's change feed (a local activity,
 *    `recordCheckoutStatus`), which the API follows instead of querying the workflow; and a checkout
 *    started with captureMode `deferred` (PAYMENT_CAPTURE_MODE) authorizes at the payment step and
 *    captures at the start of confirmOrder.
 */
export type Shape = 1 | 2 | 3 | 4;

export const LOCAL_SHORT_STEPS_PATCH = 'local-activities-for-short-steps';
export const STEPS_AS_ACTIVITIES_PATCH = 'forward-steps-as-activities';
export const STATUS_FEED_PATCH = 'status-feed-and-deferred-capture';

/** Decided once, at the start: the first `patched()` a checkout meets fixes its shape. */
export function checkoutShape(): Shape {
  if (patched(STATUS_FEED_PATCH)) return 4;
  return patched(STEPS_AS_ACTIVITIES_PATCH) ? 3 : patched(LOCAL_SHORT_STEPS_PATCH) ? 2 : 1;
}

const stripe = proxyActivities<Activities>(paymentCall);
const remote = { db: proxyActivities<Activities>(databaseWrite), kafka: proxyActivities<Activities>(publishEvent) };
const local = { db: proxyLocalActivities<Activities>(localDatabaseWrite), kafka: proxyLocalActivities<Activities>(localPublishEvent) };
const remoteOutcome = proxyActivities<Activities>(publishOutcome);
const localOutcome = proxyLocalActivities<Activities>(localPublishOutcome);

/** The activities a checkout of one shape calls, each group with the options its shape had. */
export function checkoutActivities(shape: Shape, compensationRetryWindowMs: number) {
  const report = shape === 1 ? remote : local;
  return {
    /** Stripe calls: regular activities in every shape, so ops see each one in the history. */
    stripe,
    /** Forward steps: local only in shape 2. */
    steps: shape === 2 ? local.db : remote.db,
    /** Reports of what happened: Kafka publishes and outcome records. */
    report,
    /** Publishes past the point of no return: shorter rounds, retried by the saga without end. */
    outcome: shape === 1 ? remoteOutcome : localOutcome,
    /** Compensations, retried for the checkout's COMPENSATION_RETRY_WINDOW_MS. */
    undo: proxyActivities<Activities>(compensationCall(compensationRetryWindowMs)),
  };
}

export type CheckoutActivities = ReturnType<typeof checkoutActivities>;
