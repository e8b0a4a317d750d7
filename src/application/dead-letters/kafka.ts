import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import type { Config } from '../../config';
import { kafkaClientOptions, type KafkaConnectionConfig } from '../../kafka/client-config';
import { readDeadLetter, type DeadLetter } from '../../kafka/consumer/dead-letters';
import { DomainError, ServiceUnavailableError } from '../errors';

export interface DeadLetterDeps {
  config: Pick<Config, 'KAFKA_TOPIC' | 'KAFKA_DLQ_TOPIC'> & KafkaConnectionConfig;
  /** Appended to KAFKA_CLIENT_ID, so the broker's logs say who read the DLQ (`cli`). */
  clientRole: string;
}

/**
 * The throwaway consumer groups a DLQ read uses: never committed, deleted afterwards. The compose
 * file's ACLs grant the CLI (run as the worker's principal) exactly this prefix.
 */
export const deadLetterReaderGroupPrefix = (clientRole: string): string => `checkout-saga-${clientRole}-dlq-`;

/** Seconds to wait before asking Kafka again. */
const KAFKA_RETRY_AFTER_SECONDS = 5;

export function kafkaClient(deps: DeadLetterDeps): Kafka {
  // kafkajs' own log would interleave with the caller's output; failures surface as the use case's error.
  return new Kafka({ ...kafkaClientOptions(deps.config, deps.clientRole), logLevel: logLevel.NOTHING, connectionTimeout: 3_000, retry: { retries: 2 } });
}

/** Kafka not answering, as ServiceUnavailableError('kafka'); the use case's own refusals pass through. */
export async function withKafka<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof DomainError) throw err;
    throw new ServiceUnavailableError('kafka', KAFKA_RETRY_AFTER_SECONDS, { cause: err });
  }
}

/**
 * Reads the DLQ from its earliest retained record to its end as it is now, through a throwaway
 * consumer group that commits nothing and is deleted afterwards. `stop` ends the read early.
 */
export async function readDeadLetters(
  deps: DeadLetterDeps,
  stop: (partition: number, message: KafkaMessage) => boolean,
): Promise<{ letters: DeadLetter[]; stoppedAt?: KafkaMessage }> {
  const { KAFKA_DLQ_TOPIC } = deps.config;
  const client = kafkaClient(deps);
  const admin = client.admin();
  return withKafka(async () => {
    await admin.connect();
    const groupId = `${deadLetterReaderGroupPrefix(deps.clientRole)}${randomUUID()}`;
    try {
      const offsets = await admin.fetchTopicOffsets(KAFKA_DLQ_TOPIC);
      const remaining = new Map(offsets.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high) - 1n]));
      if (remaining.size === 0) return { letters: [] };
      const letters: DeadLetter[] = [];
      let stoppedAt: KafkaMessage | undefined;
      const consumer = client.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: KAFKA_DLQ_TOPIC, fromBeginning: true });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${KAFKA_DLQ_TOPIC} was not read to its end within 30 s`)), 30_000);
          const finish = () => {
            clearTimeout(timer);
            resolve();
          };
          void consumer
            .run({
              autoCommit: false,
              eachMessage: async ({ partition, message }) => {
                const last = remaining.get(partition);
                if (last === undefined || BigInt(message.offset) > last) return;
                letters.push(readDeadLetter(message, partition));
                if (stop(partition, message)) {
                  stoppedAt = message;
                  return finish();
                }
                if (BigInt(message.offset) >= last) remaining.delete(partition);
                if (remaining.size === 0) finish();
              },
            })
            .catch(reject);
        });
      } finally {
        await consumer.disconnect();
      }
      letters.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
      return { letters, ...(stoppedAt ? { stoppedAt } : {}) };
    } finally {
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
    }
  });
}
