import { Partitioners } from 'kafkajs';
import { originalRecord, readDeadLetter, type DeadLetter } from '../../kafka/consumer/dead-letters';
import { DeadLetterNotFoundError, DeadLetterOfAnotherTopicError } from './errors';
import { kafkaClient, readDeadLetters, withKafka, type DeadLetterDeps } from './kafka';

export interface DeadLetterPosition {
  partition: number;
  /** Kafka offsets outgrow a double: kept as the decimal string Kafka uses. */
  offset: string;
}

export interface ReplayedDeadLetter {
  deadLetter: DeadLetter;
  /** Where the original record went again. */
  to: { topic: string; partition: number | null; offset: string | null };
}

/**
 * Puts one dead letter back: its original record, unchanged, to the outcome topic. Every consumer
 * reads it again and the ones that had already processed it drop it by its CloudEvent id, so a
 * replay is safe to repeat. The dead letter itself stays in the DLQ as a record.
 */
export async function replayDeadLetter(deps: DeadLetterDeps, position: DeadLetterPosition): Promise<ReplayedDeadLetter> {
  const { KAFKA_TOPIC, KAFKA_DLQ_TOPIC } = deps.config;
  const { stoppedAt: found } = await readDeadLetters(deps, (partition, message) => partition === position.partition && message.offset === position.offset);
  if (!found) throw new DeadLetterNotFoundError(KAFKA_DLQ_TOPIC, position.partition, position.offset);
  const deadLetter = readDeadLetter(found, position.partition);
  if (deadLetter.originalTopic && deadLetter.originalTopic !== KAFKA_TOPIC) throw new DeadLetterOfAnotherTopicError(deadLetter.originalTopic, KAFKA_TOPIC);

  const producer = kafkaClient(deps).producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  const [sent] = await withKafka(async () => {
    await producer.connect();
    try {
      return await producer.send({ topic: KAFKA_TOPIC, acks: -1, messages: [originalRecord(found)] });
    } finally {
      await producer.disconnect();
    }
  });
  return { deadLetter, to: { topic: KAFKA_TOPIC, partition: sent?.partition ?? null, offset: sent?.baseOffset ?? null } };
}
