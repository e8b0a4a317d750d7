import type { Context } from '@temporalio/activity';
import type { MetricTags } from '@temporalio/common';
import type { ActivityInterceptors, ActivityInterceptorsFactory } from '@temporalio/worker';
import type { CheckoutOutcomeInput } from '../activities/checkout/order';
import { checkoutIdFromWorkflowId, type CompensationName } from '../workflows/checkout/contract';

/**
 * Counters for checkout outcomes, and the ids every activity log line should carry.
 *
 * Counted here, at the outcome activities, rather than in the workflow: workflow code would have to
 * skip replays and is one person's file, while the outcome activities run once per outcome in live
 * execution only. They are emitted through the activity's SDK metric meter, so they land on the
 * worker's Prometheus endpoint (WORKER_METRICS_PORT) next to the SDK's own runtime metrics, tagged
 * with namespace, task queue and activity type, with no second HTTP server. At-least-once: an activity whose
 * success was lost and is retried counts twice; rare, and fine for rates and alerts.
 */

const COMPENSATIONS: ReadonlySet<string> = new Set<CompensationName>(['releaseStock', 'refundPayment', 'deleteUser', 'revokeSsoToken']);

/**
 * Metric names, `_total` included: the SDK's exporter leaves counter names as given (turning on its
 * suffix would rename every SDK metric too), and these match the API's `checkouts_started_total`.
 * The SDK's `temporal_` prefix applies to its own metrics only.
 */
export const CHECKOUT_METRICS = {
  completed: 'checkouts_completed_total',
  failed: 'checkouts_failed_total',
  cancelled: 'checkouts_cancelled_total',
  compensated: 'checkouts_compensated_total',
  needsAttention: 'checkouts_needs_attention_total',
  compensationFailures: 'checkout_compensation_attempt_failures_total',
  publishFailures: 'checkout_event_publish_failures_total',
} as const;

function count(ctx: Context, name: string, description: string, tags: MetricTags = {}): void {
  ctx.metricMeter.createCounter(name, '1', description).add(1, tags);
}

function countOutcome(ctx: Context, activityType: string, arg: unknown): void {
  if (activityType === 'confirmOrder') {
    count(ctx, CHECKOUT_METRICS.completed, 'Checkouts that ended COMPLETED (order confirmed)');
    return;
  }
  if (activityType !== 'recordCheckoutOutcome') return;
  const outcome = arg as Partial<CheckoutOutcomeInput>;
  switch (outcome.status) {
    case 'FAILED':
      count(ctx, CHECKOUT_METRICS.failed, 'Checkouts that ended FAILED, by failure code', { failure_code: outcome.failure?.code ?? 'unknown' });
      count(ctx, CHECKOUT_METRICS.compensated, 'Checkouts whose compensations all finished', { outcome: 'failed' });
      return;
    case 'CANCELLED':
      count(ctx, CHECKOUT_METRICS.cancelled, 'Checkouts that ended CANCELLED');
      count(ctx, CHECKOUT_METRICS.compensated, 'Checkouts whose compensations all finished', { outcome: 'cancelled' });
      return;
    case 'NEEDS_ATTENTION':
      count(ctx, CHECKOUT_METRICS.needsAttention, 'Times a checkout was parked in NEEDS_ATTENTION (alert on any)');
      return;
    default:
      return;
  }
}

/** checkoutId, orderId and refundKey from the workflow id and the activity's input, when they are there. */
function idsOf(workflowId: string | undefined, arg: unknown): Record<string, string> {
  const ids: Record<string, string> = {};
  const fromId = workflowId ? checkoutIdFromWorkflowId(workflowId) : undefined;
  if (fromId) ids.checkoutId = fromId;
  if (workflowId?.startsWith('refund-')) ids.refundKey = workflowId.slice('refund-'.length);
  if (arg && typeof arg === 'object') {
    for (const key of ['checkoutId', 'orderId', 'refundKey'] as const) {
      const value = (arg as Record<string, unknown>)[key];
      if (typeof value === 'string') ids[key] = value;
    }
  }
  return ids;
}

export const observabilityInterceptor: ActivityInterceptorsFactory = (ctx: Context): ActivityInterceptors => {
  const activityType = ctx.info.activityType;
  let ids = idsOf(ctx.info.workflowExecution?.workflowId, undefined);
  return {
    inbound: {
      async execute(input, next) {
        ids = idsOf(ctx.info.workflowExecution?.workflowId, input.args[0]);
        try {
          const result = await next(input);
          countOutcome(ctx, activityType, input.args[0]);
          return result;
        } catch (err) {
          if (COMPENSATIONS.has(activityType)) {
            count(ctx, CHECKOUT_METRICS.compensationFailures, 'Failed attempts of a compensation (each is retried)', { compensation: activityType });
          }
          if (activityType === 'publishEvent') {
            // Outcome events are retried without end once nothing can undo them: this is the alert that one is stuck.
            const type = (input.args[0] as { event?: { type?: unknown } } | undefined)?.event?.type;
            count(ctx, CHECKOUT_METRICS.publishFailures, 'Failed attempts to publish an outcome event to Kafka (each is retried)', {
              event_type: typeof type === 'string' ? type : 'unknown',
            });
          }
          throw err;
        }
      },
    },
    outbound: {
      // Every `log` call of the activity (and the SDK's own activity lines) carries the business ids.
      getLogAttributes: (attributes, next) => next({ ...ids, ...attributes }),
    },
  };
};
