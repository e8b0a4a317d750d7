import type { Message } from 'kafkajs';
import { deadLetterMessage, type DeadLetterReason } from './dead-letters';
import { UndecodableMessage } from './decode';
import type { RecordHandler } from './delivery';
import { backoffMs } from './failures';
import { HandlerKeptFailing } from './retry-then-give-up';

export interface DeadLetteringOptions {
  topic: string;
  consumerGroup: string;
  /** Writes one record to the DLQ topic; throws while it cannot. */
  send: (record: Message) => Promise<void>;
  /** Waits between failed writes, as for any outage: first, then the cap. */
  initialMs: number;
  maxMs: number;
}

/**
 * A record given up below (UndecodableMessage: not a CloudEvent or against the contract;
 * HandlerKeptFailing: the handler failed on it N times) is copied to the DLQ with headers saying
 * where it came from and why, and then it is done: the partition moves on. A DLQ that cannot be
 * written yet is an outage like any other, waited out on the same record, which is never resolved
 * without its dead letter.
 */
export function deadLetterGivenUp({ topic, consumerGroup, send, initialMs, maxMs }: DeadLetteringOptions): (next: RecordHandler) => RecordHandler {
  return (next) => async (delivery) => {
    let reason: Omit<DeadLetterReason, 'topic' | 'partition' | 'consumerGroup'>;
    try {
      return await next(delivery);
    } catch (err) {
      if (err instanceof UndecodableMessage) reason = { kind: err.kind, error: err.message, attempts: 1, eventId: err.eventId, eventType: err.eventType };
      else if (err instanceof HandlerKeptFailing) reason = { kind: 'handler', error: err.message, attempts: err.failures, eventId: err.eventId, eventType: err.eventType };
      else throw err;
    }

    const { partition, message, logger } = delivery;
    const record = deadLetterMessage(message, { topic, partition, consumerGroup, ...reason });
    const { kind, attempts, error, eventId, eventType } = reason;
    for (let attempt = 1; ; attempt++) {
      try {
        await send(record);
        logger.warn({ partition, offset: message.offset, kind, attempts, error, eventId, eventType }, 'message dead-lettered; the partition moves on');
        return;
      } catch (err) {
        logger.error({ err, partition, offset: message.offset }, 'could not write the dead letter; retrying before moving on');
        await delivery.wait(backoffMs(attempt, initialMs, maxMs));
      }
    }
  };
}
