import type { KafkaMessage } from 'kafkajs';
import type { Logger } from '../../logger';
import type { CheckoutEvent } from './decode';

/**
 * What the runtime's wrappers pass each other, in the shape of Watermill's router middleware: one
 * concern per wrapper, each taking the handler below it and returning a handler of the same kind.
 * A wrapper either ends with the record (handled, ignored, dead-lettered) or throws; the batch loop
 * resolves the record's offset only when nothing was thrown.
 */

/** One record of a partition in the runtime's hands, until its offset is resolved or let go of. */
export interface Delivery {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
  /** The consumer's log; below decoding, with the event's id, type and order. */
  readonly logger: Logger;
  /**
   * Calls of the consumer's handler for this record in this process, failed ones included (the
   * handler sees it as `attempt`). Kept here rather than in one wrapper because two wrappers retry
   * the same record, and both number their waits by it.
   */
  tries: number;
  /**
   * Waits `ms` while the consumer keeps its place in the group. Throws DeliveryInterrupted when the
   * consumer stops or loses the partition meanwhile: the record is then let go of, not resolved.
   */
  wait(ms: number): Promise<void>;
}

/** Takes one record to its end: handled, ignored or dead-lettered. */
export type RecordHandler = (delivery: Delivery) => Promise<void>;

/** Applies one decoded event; returns what it did, for the log. */
export type DeliveredEventHandler = (event: CheckoutEvent, delivery: Delivery) => Promise<string>;

/**
 * The consumer let go of the record while it waited (stopping, partition reassigned, group
 * rebalancing). Not a failure of the record: no wrapper counts it, retries it or dead-letters it,
 * and the batch loop leaves the record unresolved, for redelivery.
 */
export class DeliveryInterrupted extends Error {
  constructor(
    message: string,
    /** An error kafkajs must see to rejoin the group (a heartbeat refused during a rebalance). */
    readonly kafkaError?: unknown,
  ) {
    super(message);
    this.name = 'DeliveryInterrupted';
  }
}
