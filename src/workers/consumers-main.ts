// First, as in every entry point: tracing, when OTEL_* configures it.
import '../tracing/register-consumers';
import { config, ConfigError } from '../config';
import { kafkaSecurity } from '../kafka/client-config';
import { CONSUMER_GROUPS, type ConsumerGroupId } from '../kafka/consumer/groups';
import type { EventConsumer } from '../kafka/consumer/runtime';
import { connectDatabase } from '../../db/client';
import { ensureConfiguredTopics } from '../kafka/topics';
import { logger } from '../logger';
import { createNotificationConsumer, notificationSettings } from '../notifications/consumer';
import { createMailer } from '../notifications/mailer';
import { createOrderHistoryConsumer } from '../read-model/consumer';
import { currentTracing } from '../tracing/current';

/**
 * The downstream consumers process: the order-history projector and the notification sender, each
 * in its own consumer group (so either can be scaled, restarted or replayed without the other).
 * They share this process only to keep `npm start` small; nothing else is shared but the pool.
 * SIGINT/SIGTERM: each finishes the message in hand, commits and leaves its group.
 */
async function main(): Promise<void> {
  const cfg = config();
  // The topics exist before anything subscribes, whoever starts first (the stack, compose, this).
  await ensureConfiguredTopics(cfg, 'consumers');
  const database = connectDatabase(cfg.DATABASE_URL, cfg.DATABASE_POOL_SIZE);
  const mailer = createMailer({ smtpUrl: cfg.SMTP_URL, from: cfg.MAIL_FROM });
  const connection = { brokers: cfg.KAFKA_BROKERS, clientId: cfg.KAFKA_CLIENT_ID, topic: cfg.KAFKA_TOPIC, dlqTopic: cfg.KAFKA_DLQ_TOPIC, security: kafkaSecurity(cfg) };
  // CONSUMER_GROUPS: all by default; a deployment runs each in a process of its own, as its own principal.
  const builders: Record<ConsumerGroupId, () => EventConsumer> = {
    [CONSUMER_GROUPS.orderHistoryProjector]: () => createOrderHistoryConsumer({ connection, db: database.db, logger }),
    [CONSUMER_GROUPS.notificationSender]: () => createNotificationConsumer({ connection, db: database.db, mailer, logger, ...withSweep(notificationSettings(cfg)) }),
  };
  const consumers: EventConsumer[] = cfg.CONSUMER_GROUPS.map((group) => builders[group]());

  let stopping: Promise<void> | undefined;
  const stop = (why: string) =>
    (stopping ??= (async () => {
      logger.info({ why }, 'consumers stopping');
      await Promise.allSettled(consumers.map((c) => c.stop()));
      mailer.close();
      await database.close();
      await currentTracing()?.shutdown();
      logger.info('consumers stopped');
    })());

  process.once('SIGTERM', () => void stop('SIGTERM').then(() => process.exit(0)));
  process.once('SIGINT', () => void stop('SIGINT').then(() => process.exit(0)));
  for (const consumer of consumers) {
    // kafkajs gave up restarting it: exit non-zero so the supervisor restarts the process.
    void consumer.crashed.then((err) => {
      logger.fatal({ err, consumerGroup: consumer.groupId }, 'consumer crashed for good');
      void stop('crash').finally(() => process.exit(1));
    });
  }

  await Promise.all(consumers.map((c) => c.start()));
  logger.info({ groups: consumers.map((c) => c.groupId), topic: cfg.KAFKA_TOPIC, dlqTopic: cfg.KAFKA_DLQ_TOPIC }, 'consumers started');
}

/** This process clears the expired rows of the failure-notice throttle now and then. */
function withSweep(settings: ReturnType<typeof notificationSettings>): ReturnType<typeof notificationSettings> {
  return { ...settings, failureNotices: { ...settings.failureNotices, sweepExpired: true } };
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) logger.fatal(err.message);
  else logger.fatal({ err }, 'consumers failed to start');
  process.exit(1);
});
