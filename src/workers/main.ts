// First: tracing (when OTEL_* configures it) must be on before the Stripe SDK loads `http`.
import '../tracing/register-worker';
import { NativeConnection } from '@temporalio/worker';
import { config, ConfigError } from '../config';
import { ensureConfiguredTopics } from '../kafka/topics';
import { logger } from '../logger';
import { createCheckoutWorker, workerOptionsFromConfig, workerTuning } from './checkout-worker';
import { createWorkerResources } from './resources';
import { installWorkerRuntime } from './runtime';
import { currentTracing } from '../tracing/current';

/** The worker process: runs CheckoutWorkflow and its activities until SIGINT/SIGTERM, then drains. */
async function main(): Promise<void> {
  const cfg = config();
  installWorkerRuntime(cfg);
  // Publishing never auto-creates a topic, so the worker makes sure they exist (a no-op when they do).
  await ensureConfiguredTopics(cfg, 'worker');
  const resources = createWorkerResources(cfg);
  const connection = await NativeConnection.connect({ address: cfg.TEMPORAL_ADDRESS });
  try {
    const worker = await createCheckoutWorker({ connection, ...workerOptionsFromConfig(cfg), deps: resources.deps });
    logger.info(
      { taskQueue: cfg.TEMPORAL_TASK_QUEUE, temporal: cfg.TEMPORAL_ADDRESS, metricsPort: cfg.WORKER_METRICS_PORT || null, tuning: workerTuning(cfg) },
      'worker started',
    );
    // The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown; run() resolves once drained.
    await worker.run();
    logger.info('worker stopped');
  } finally {
    await connection.close();
    await resources.close();
    await currentTracing()?.shutdown();
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) logger.fatal(err.message);
  else logger.fatal({ err }, 'worker failed');
  process.exit(1);
});
