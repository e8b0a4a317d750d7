import { ConfigResourceTypes, Kafka, logLevel, type Admin, type LogEntry } from 'kafkajs';
import { kafkaSecurity, type KafkaSecurity } from './client-config';
import type { Config } from '../config';
import { logger, type Logger } from '../logger';

/**
 * Creates the outcome-event topic and its dead-letter topic when they are missing. Brokers run with
 * `auto.create.topics.enable=false`, so a typo in a topic name fails loudly instead of creating a
 * topic nobody reads; this is the one place topics come from (the local stack at start, the
 * service at boot, the compose topic-init job with the same names and partition count).
 */

export interface TopicOptions {
  topic: string;
  dlqTopic: string;
  partitions: number;
  replicationFactor?: number;
  clientId?: string;
  /** SASL and TLS of the process (kafkaSecurity(config)); none on the local stack. */
  security?: KafkaSecurity;
  /**
   * `retention.ms` of both topics when created; default -1 (kept forever). The outcome topic is the
   * history a consumer added later starts from (DESIGN.md: a new consumer reads the whole retained
   * history), and a read model is rebuilt by replaying it; a time limit would silently make both
   * incomplete. The volume is a few small events per checkout. Dead letters wait for a person, so
   * they are not allowed to expire either. Compaction is no alternative: it keeps only the last
   * event per order key.
   */
  retentionMs?: number;
}

/** Kept forever: see TopicOptions.retentionMs. */
export const EVENT_TOPIC_RETENTION_MS = -1;

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
}

/** The configured topics, as every process that publishes or consumes provisions them at start. */
export function ensureConfiguredTopics(
  cfg: Pick<Config, 'KAFKA_BROKERS' | 'KAFKA_TOPIC' | 'KAFKA_DLQ_TOPIC' | 'KAFKA_TOPIC_PARTITIONS' | 'KAFKA_REPLICATION_FACTOR' | 'KAFKA_CLIENT_ID' | 'KAFKA_SASL_MECHANISM' | 'KAFKA_SASL_USERNAME' | 'KAFKA_SASL_PASSWORD' | 'KAFKA_SSL'>,
  role: string,
): Promise<EnsureTopicsResult> {
  return ensureTopics(cfg.KAFKA_BROKERS, {
    topic: cfg.KAFKA_TOPIC,
    dlqTopic: cfg.KAFKA_DLQ_TOPIC,
    partitions: cfg.KAFKA_TOPIC_PARTITIONS,
    replicationFactor: cfg.KAFKA_REPLICATION_FACTOR,
    clientId: `${cfg.KAFKA_CLIENT_ID}-${role}-topics`,
    security: kafkaSecurity(cfg),
  });
}

export async function ensureTopics(brokers: string[], opts: TopicOptions): Promise<EnsureTopicsResult> {
  const log = logger.child({ component: 'kafka-topics' });
  const kafka = new Kafka({
    clientId: opts.clientId ?? 'checkout-saga-topics',
    brokers,
    ...opts.security,
    logLevel: logLevel.WARN,
    logCreator: kafkajsToPino,
    retry: { retries: 5, initialRetryTime: 300 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const wanted = [opts.topic, opts.dlqTopic];
    const before = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !before.has(t));
    if (missing.length) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          // The DLQ gets the same partition count so a dead letter keeps its order key's partition.
          numPartitions: opts.partitions,
          replicationFactor: opts.replicationFactor ?? 1,
          configEntries: topicConfig(opts),
        })),
      });
    }
    const metadata = await admin.fetchTopicMetadata({ topics: wanted });
    for (const t of metadata.topics) {
      // Adding partitions would move keys to other partitions and break per-order ordering for
      // orders in flight, so a mismatch is reported, never "fixed" here.
      if (t.partitions.length !== opts.partitions) {
        log.warn({ topic: t.name, partitions: t.partitions.length, configured: opts.partitions }, 'topic exists with a different partition count; leaving it as it is');
      }
    }
    await warnOnRetentionDrift(admin, wanted.filter((t) => before.has(t)), opts, log);
    return { created: missing, existing: wanted.filter((t) => before.has(t)) };
  } finally {
    await admin.disconnect();
  }
}

function topicConfig(opts: TopicOptions): Array<{ name: string; value: string }> {
  const rf = opts.replicationFactor ?? 1;
  return [
    { name: 'retention.ms', value: String(opts.retentionMs ?? EVENT_TOPIC_RETENTION_MS) },
    // The publisher writes with acks=all; with replicas, "all" should mean at least two copies.
    ...(rf > 1 ? [{ name: 'min.insync.replicas', value: String(Math.min(2, rf - 1) || 1) }] : []),
  ];
}

/**
 * An existing topic keeps the retention it has: that is its operator's decision (and changing it
 * here could delete history at once). A shorter retention than wanted is reported, because a
 * consumer added later would silently miss the events that expired.
 */
async function warnOnRetentionDrift(admin: Admin, topics: string[], opts: TopicOptions, log: Logger): Promise<void> {
  if (topics.length === 0) return;
  const wanted = opts.retentionMs ?? EVENT_TOPIC_RETENTION_MS;
  try {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms'] })),
    });
    for (const resource of described.resources) {
      const actual = Number(resource.configEntries.find((e) => e.configName === 'retention.ms')?.configValue ?? NaN);
      const shorter = wanted < 0 ? actual >= 0 : actual >= 0 && actual < wanted;
      if (shorter) {
        log.warn({ topic: resource.resourceName, retentionMs: actual, wanted }, 'topic keeps events for less time than consumers added later need; raise retention.ms (kafka-configs --alter --add-config retention.ms=-1)');
      }
    }
  } catch (err) {
    log.warn({ err }, 'could not read topic retention');
  }
}

const pinoLevel: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs' logCreator that writes through the service's pino logger instead of console. */
export function kafkajsToPino() {
  const log = logger.child({ component: 'kafkajs' });
  return ({ level, log: entry }: LogEntry) => {
    const { message, ...rest } = entry;
    log[pinoLevel[level] ?? 'info'](rest, message);
  };
}
