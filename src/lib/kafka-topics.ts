import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import { logger } from '../logger';

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
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
}

export async function ensureTopics(brokers: string[], opts: TopicOptions): Promise<EnsureTopicsResult> {
  const log = logger.child({ component: 'kafka-topics' });
  const kafka = new Kafka({
    clientId: opts.clientId ?? 'checkout-saga-topics',
    brokers,
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
    return { created: missing, existing: wanted.filter((t) => before.has(t)) };
  } finally {
    await admin.disconnect();
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
