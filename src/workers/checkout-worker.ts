import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type Activities, type ActivityDeps } from '../activities';
import type { Config } from '../config';
import { temporalDataConverter } from '../temporal/data-converter';
import { activityTracingInterceptors, workflowSpanSinks } from '../tracing/temporal';
import { observabilityInterceptor } from './activity-interceptor';
import { WORKFLOW_INTERCEPTOR_MODULES, WORKFLOWS_PATH } from './build-workflow-bundle';

interface CheckoutWorkerBaseOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** A bundle made by build-workflow-bundle.ts; without one the worker bundles src/workflows (about 2 s). */
  workflowBundlePath?: string;
  interceptors?: WorkerOptions['interceptors'];
  /** `temporalDataConverter(config)`: required, because a worker without the codec would write customer data in clear. */
  dataConverter: NonNullable<WorkerOptions['dataConverter']>;
  maxConcurrentActivityTaskExecutions?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  /** Concurrency and cache knobs (`workerTuning(config)`); unset ones keep the SDK's defaults. */
  tuning?: WorkerTuning;
}

/**
 * The real activities are built from `deps`; `activities` replaces them wholesale, which is how the
 * bench runs the same workflow code and worker options with no-op stubs (its "empty saga").
 */
export type CheckoutWorkerOptions = CheckoutWorkerBaseOptions & ({ deps: ActivityDeps } | { activities: Activities });

export type WorkerTuning = Pick<
  WorkerOptions,
  | 'maxConcurrentWorkflowTaskExecutions'
  | 'maxConcurrentActivityTaskExecutions'
  | 'maxConcurrentLocalActivityExecutions'
  | 'maxCachedWorkflows'
  | 'maxConcurrentWorkflowTaskPolls'
  | 'maxConcurrentActivityTaskPolls'
>;

/** The WORKER_* variables as worker options; only the ones set, so the SDK's defaults stay the defaults. */
export function workerTuning(cfg: Config): WorkerTuning {
  const tuning: WorkerTuning = {
    maxConcurrentWorkflowTaskExecutions: cfg.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxConcurrentActivityTaskExecutions: cfg.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentLocalActivityExecutions: cfg.WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES,
    maxCachedWorkflows: cfg.WORKER_MAX_CACHED_WORKFLOWS,
    maxConcurrentWorkflowTaskPolls: cfg.WORKER_WORKFLOW_TASK_POLLERS,
    maxConcurrentActivityTaskPolls: cfg.WORKER_ACTIVITY_TASK_POLLERS,
  };
  return Object.fromEntries(Object.entries(tuning).filter(([, v]) => v !== undefined)) as WorkerTuning;
}

/**
 * What a worker process takes from its configuration: namespace, queue, tuning, workflow bundle,
 * the payload codec, and the activity interceptor behind the checkout counters and the ids on every log line. The
 * worker and the bench's empty-saga worker both use it, so the ceiling runs with the same options.
 */
export function workerOptionsFromConfig(
  cfg: Config,
): Pick<CheckoutWorkerBaseOptions, 'namespace' | 'taskQueue' | 'interceptors' | 'dataConverter' | 'tuning' | 'workflowBundlePath'> {
  return {
    namespace: cfg.TEMPORAL_NAMESPACE,
    taskQueue: cfg.TEMPORAL_TASK_QUEUE,
    interceptors: { activity: [observabilityInterceptor] },
    dataConverter: temporalDataConverter(cfg),
    tuning: workerTuning(cfg),
    ...(cfg.WORKFLOW_BUNDLE_PATH ? { workflowBundlePath: cfg.WORKFLOW_BUNDLE_PATH } : {}),
  };
}

/**
 * The workflow code a worker (or a replayer) runs: a prebuilt bundle, which carries its workflow
 * interceptors inside (build-workflow-bundle.ts), or src/workflows bundled at start with the same ones.
 */
export function workflowSource(bundlePath?: string): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'interceptors'> {
  return bundlePath
    ? { workflowBundle: { codePath: bundlePath } }
    : { workflowsPath: WORKFLOWS_PATH, interceptors: { workflowModules: [...WORKFLOW_INTERCEPTOR_MODULES] } };
}

export async function createCheckoutWorker(opts: CheckoutWorkerOptions): Promise<Worker> {
  const source = workflowSource(opts.workflowBundlePath);
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: 'activities' in opts ? opts.activities : createActivities(opts.deps),
    ...source,
    dataConverter: opts.dataConverter,
    // On SIGTERM in-flight activities get this long to finish before their tasks are abandoned
    // (and retried elsewhere with the same idempotency keys).
    shutdownGraceTime: '30s',
    interceptors: {
      ...source.interceptors,
      ...opts.interceptors,
      // The activity's span outermost, so it covers whatever the other interceptors do (none while tracing is off).
      activity: [...activityTracingInterceptors(), ...(opts.interceptors?.activity ?? [])],
    },
    // Where the spans of workflow code leave the sandbox (src/tracing/temporal.ts).
    sinks: workflowSpanSinks(),
    ...opts.tuning,
    ...(opts.maxConcurrentActivityTaskExecutions ? { maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivityTaskExecutions } : {}),
    ...(opts.maxConcurrentWorkflowTaskExecutions ? { maxConcurrentWorkflowTaskExecutions: opts.maxConcurrentWorkflowTaskExecutions } : {}),
  });
}
