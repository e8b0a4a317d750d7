import { NativeConnection } from '@temporalio/worker';
import { config } from '../../src/config';
import { logger } from '../../src/logger';
import { createCheckoutWorker, workerOptionsFromConfig, workerTuning } from '../../src/workers/checkout-worker';
import { installWorkerRuntime } from '../../src/workers/runtime';
import { createEmptyActivities } from './empty-activities';

/**
 * The bench's empty-saga worker: src/workers/main.ts with the activities swapped for no-op stubs.
 * Same runtime set-up, same interceptors, same worker options (WORKER_* variables), same workflow
 * bundle (WORKFLOW_BUNDLE_PATH); only TEMPORAL_TASK_QUEUE differs, set by the bench.
 */
async function main(): Promise<void> {
  const cfg = config();
  installWorkerRuntime(cfg);
  const connection = await NativeConnection.connect({ address: cfg.TEMPORAL_ADDRESS });
  try {
    const worker = await createCheckoutWorker({ connection, ...workerOptionsFromConfig(cfg), activities: createEmptyActivities() });
    logger.info({ taskQueue: cfg.TEMPORAL_TASK_QUEUE, tuning: workerTuning(cfg) }, 'empty-saga worker started');
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  logger.fatal({ err }, 'empty-saga worker failed');
  process.exit(1);
});
