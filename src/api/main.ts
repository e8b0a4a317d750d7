// First: tracing (when OTEL_* configures it) must be on before express and `http` are loaded.
import '../tracing/register-api';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaClientOptions } from '../kafka/client-config';
import { Registry } from 'prom-client';
import { config, ConfigError, type Config } from '../config';
import { ALL_CONSUMER_GROUPS } from '../kafka/consumer/groups';
import { consumerGroupsProbe, registerConsumerMetrics } from '../kafka/consumer/monitoring';
import { connectDatabase } from '../../db/client';
import { logger } from '../logger';
import { temporalDataConverter } from '../temporal/data-converter';
import type { ChargeEventHandler } from '../application/payments/stripe-webhooks';
import { createChargeEventHandler } from '../application/refunds/charge-events';
import { listenForStatusChanges } from '../application/checkouts/status-feed';
import { createStripeClient } from '../stripe/client';
import { createApp } from './app';
import { createMetricsApp } from './metrics';
import { createReadinessChecker, kafkaProbe, postgresProbe, temporalProbe } from './readiness';
import { currentTracing } from '../tracing/current';
import { workflowClientInterceptors } from '../tracing/temporal';

/** In-flight requests get this long to finish on SIGTERM before their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface ApiServer {
  server: Server;
  /** Where it listens, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** The internal Prometheus endpoint (`API_METRICS_PORT`), when it is on. */
  metricsUrl?: string;
  close(): Promise<void>;
}

/**
 * Connects the API's clients and listens. Temporal and Kafka are connected lazily: the API starts
 * (and answers status from PostgreSQL, and reports itself not ready) while either is down.
 */
export async function startApiServer(cfg: Config, options: { port?: number; host?: string; onChargeEvent?: ChargeEventHandler } = {}): Promise<ApiServer> {
  const database = connectDatabase(cfg.DATABASE_URL, cfg.DATABASE_POOL_SIZE);
  const connection = Connection.lazy({ address: cfg.TEMPORAL_ADDRESS });
  // A workflow started (or signalled) inside a request joins the request's trace, when tracing is on.
  const temporal = new Client({ connection, namespace: cfg.TEMPORAL_NAMESPACE, dataConverter: temporalDataConverter(cfg), interceptors: { workflow: workflowClientInterceptors() } });
  const kafkaAdmin = new Kafka({
    ...kafkaClientOptions(cfg, 'api'),
    logLevel: logLevel.NOTHING,
    // Readiness asks again every few seconds; kafkajs's own retries would only make it slower to answer.
    retry: { retries: 0 },
    connectionTimeout: 1_500,
  }).admin();
  // The downstream consumers as Kafka sees them: group membership for readiness, offsets for lag.
  const consumersAdmin = new Kafka({
    ...kafkaClientOptions(cfg, 'api-consumers'),
    logLevel: logLevel.NOTHING,
    // Finding a group's coordinator needs the cluster metadata, which a fresh client loads on its
    // first retry: two quick ones, within the probe's 2 s.
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
    connectionTimeout: 1_500,
  }).admin();
  const metrics = new Registry();
  registerConsumerMetrics(metrics, consumersAdmin, { topic: cfg.KAFKA_TOPIC, dlqTopic: cfg.KAFKA_DLQ_TOPIC, groups: ALL_CONSUMER_GROUPS });
  const draining = new AbortController();
  const statusFeed = listenForStatusChanges(database.sql, logger);

  const app = createApp({
    config: cfg,
    db: database.db,
    temporal,
    stripe: createStripeClient(cfg),
    statusFeed,
    logger,
    metrics,
    readiness: createReadinessChecker(
      { postgres: postgresProbe(database.sql), temporal: temporalProbe(temporal), kafka: kafkaProbe(kafkaAdmin) },
      { logger, advisory: { consumers: consumerGroupsProbe(consumersAdmin, ALL_CONSUMER_GROUPS) } },
    ),
    shutdownSignal: draining.signal,
    sweepExpiredRateLimits: true,
    // External refunds and disputes from Stripe go to the refund flow (ExternalRefundWorkflow).
    onChargeEvent: options.onChargeEvent ?? createChargeEventHandler({ temporal, taskQueue: cfg.TEMPORAL_TASK_QUEUE, logger }),
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port ?? cfg.PORT, options.host ?? cfg.HOST, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  // Metrics on their own port, on HOST like the worker's: a scraper inside the deployment reaches
  // it, the public port never serves it.
  const metricsServer =
    cfg.API_METRICS_PORT > 0
      ? await new Promise<Server>((resolve, reject) => {
          const s = createMetricsApp(metrics).listen(cfg.API_METRICS_PORT, options.host ?? cfg.HOST, (err?: Error) => (err ? reject(err) : resolve(s)));
        }).catch(async (err: unknown) => {
          await new Promise<void>((resolve) => server.close(() => resolve()));
          throw err;
        })
      : undefined;
  const metricsUrl = metricsServer ? `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics` : undefined;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      draining.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const forced = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(forced);
      metricsServer?.closeAllConnections();
      await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
      await statusFeed.close().catch(() => undefined);
      await Promise.allSettled([database.close(), connection.close(), kafkaAdmin.disconnect(), consumersAdmin.disconnect()]);
    })());

  return { server, url, ...(metricsUrl ? { metricsUrl } : {}), close };
}

async function main(): Promise<void> {
  const cfg = config();
  const api = await startApiServer(cfg);
  logger.info({ url: api.url, appUrl: cfg.APP_URL, metricsUrl: api.metricsUrl }, 'API listening');
  const stop = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'API draining');
    api
      .close()
      // The spans of the last requests are exported before the process goes.
      .then(() => currentTracing()?.shutdown())
      .then(() => {
        logger.info('API stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'API did not stop cleanly');
        process.exit(1);
      });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) logger.fatal(err.message);
    else logger.fatal({ err }, 'API failed to start');
    process.exit(1);
  });
}
