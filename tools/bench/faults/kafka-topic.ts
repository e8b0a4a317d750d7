import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';

/**
 * Reads a topic from its first retained offset to the end it had when the read began, as a
 * consumer added later would (its own fresh group), and hands back every record.
 */

export interface TopicRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
}

export async function readWholeTopic(brokers: string[], topic: string, timeoutMs = 120_000): Promise<TopicRecord[]> {
  const kafka = new Kafka({ clientId: 'checkout-saga-faults-check', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    // `high` is the offset the next record will get: the partition is read once we passed high - 1.
    ends = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  // By position: a batch fetched twice (a retried fetch) must not count a record twice.
  const records = new Map<string, TopicRecord>();
  if (ends.size === 0) return [];

  const groupId = `checkout-saga-faults-check-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
  const remaining = new Set(ends.keys());
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const end = ends.get(batch.partition);
        for (const message of batch.messages) {
          if (end !== undefined && BigInt(message.offset) >= end) break;
          records.set(`${batch.partition}:${message.offset}`, {
            partition: batch.partition,
            offset: message.offset,
            key: message.key?.toString('utf8') ?? null,
            value: message.value?.toString('utf8') ?? null,
          });
        }
        const last = batch.messages.at(-1);
        if (end !== undefined && last && BigInt(last.offset) + 1n >= end) {
          remaining.delete(batch.partition);
          if (remaining.size === 0) done();
        }
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`reading ${topic} did not reach its end within ${timeoutMs} ms (partitions left: ${[...remaining].join(', ')})`)), timeoutMs);
    });
    try {
      await Promise.race([finished, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return [...records.values()].sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}
