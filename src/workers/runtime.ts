import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { Config } from '../config';
import { logger } from '../logger';
import { temporalLogger } from './temporal-logger';

/**
 * The SDK runtime of a worker process: its logs (and the workflow logger's) into pino, and its
 * metrics on WORKER_METRICS_PORT. Shared by the worker and the bench's empty-saga worker, so the
 * ceiling is measured with the very same set-up.
 */
export function installWorkerRuntime(cfg: Pick<Config, 'HOST' | 'WORKER_METRICS_PORT'>): void {
  Runtime.install({
    logger: temporalLogger(logger.child({ component: 'temporal' })),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      // Served by the SDK core at /metrics: task slots, poll latencies, schedule-to-start, workflow
      // and activity outcomes, plus the checkout counters of src/workers/activity-interceptor.ts. On HOST: loopback locally,
      // all interfaces in a container so Prometheus can scrape it; it exposes counts, never payloads.
      ...(cfg.WORKER_METRICS_PORT > 0 ? { metrics: { prometheus: { bindAddress: `${cfg.HOST}:${cfg.WORKER_METRICS_PORT}` } } } : {}),
    },
  });
}
