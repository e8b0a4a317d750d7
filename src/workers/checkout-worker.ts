import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';

export interface CheckoutWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A bundle made by build-workflow-bundle.ts; without one the worker bundles src/workflows (about 2 s). */
  workflowBundlePath?: string;
  interceptors?: WorkerOptions['interceptors'];
  maxConcurrentActivityTaskExecutions?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
}

export function workflowSource(bundlePath?: string): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  return bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: require.resolve('../workflows') };
}

export async function createCheckoutWorker(opts: CheckoutWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: createActivities(opts.deps),
    ...workflowSource(opts.workflowBundlePath),
    // On SIGTERM in-flight activities get this long to finish before their tasks are abandoned
    // (and retried elsewhere with the same idempotency keys).
    shutdownGraceTime: '30s',
    ...(opts.interceptors ? { interceptors: opts.interceptors } : {}),
    ...(opts.maxConcurrentActivityTaskExecutions ? { maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivityTaskExecutions } : {}),
    ...(opts.maxConcurrentWorkflowTaskExecutions ? { maxConcurrentWorkflowTaskExecutions: opts.maxConcurrentWorkflowTaskExecutions } : {}),
  });
}
