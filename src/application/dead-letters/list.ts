import type { DeadLetter } from '../../kafka/consumer/dead-letters';
import { readDeadLetters, type DeadLetterDeps } from './kafka';

/**
 * What the downstream consumers gave up on: every dead letter still retained in KAFKA_DLQ_TOPIC,
 * oldest first per partition, with where it came from and why.
 */
export async function listDeadLetters(deps: DeadLetterDeps): Promise<{ topic: string; deadLetters: DeadLetter[] }> {
  const { letters } = await readDeadLetters(deps, () => false);
  return { topic: deps.config.KAFKA_DLQ_TOPIC, deadLetters: letters };
}
