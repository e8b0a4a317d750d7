import { Kafka, logLevel, Partitioners, type Consumer, type Message, type Producer } from 'kafkajs';
import type { KafkaSecurity } from '../client-config';
import type { CheckoutEventType } from '../../events/contract';
import { kafkajsToPino } from '../topics';
import type { Logger } from '../../logger';
import { inOrderBatches } from './batch-loop';
import { deadLetterGivenUp } from './dead-letter-given-up';
import type { CheckoutEvent } from './decode';
import { decodeRecords } from './decode-records';
import type { DeliveredEventHandler, RecordHandler } from './delivery';
import { isTransientInfrastructureError } from './failures';
import { retryThenGiveUp } from './retry-then-give-up';
import { traceEffects } from './trace-effects';
import { waitOutOutages } from './wait-out-outages';

/**
 * The runtime every downstream consumer shares. Per consumer: its own consumer group reading
 * `checkout.events` from the earliest retained offset, so a consumer added later sees the whole
 * history. Per message, in partition order: decode through the CloudEvents Kafka binding, validate
 * against the contract, call the handler (which dedupes by event id in its own transaction), and
 * only then resolve the offset. A record that cannot be decoded, or whose handler keeps failing,
 * is copied to the DLQ with headers saying why, and the partition moves on. An outage of what the
 * handler talks to (database, mail server) is waited out on the same message, never skipped and
 * never dead-lettered.
 *
 * Each of those rules is one wrapper in a file of its own (handler -> handler, see `delivery.ts`),
 * and this file only puts them together and runs them on a kafkajs consumer:
 *
 *   inOrderBatches        batch-loop.ts            one record at a time, offset resolved after it
 *   deadLetterGivenUp     dead-letter-given-up.ts  what is given up below -> DLQ, partition moves on
 *   decodeRecords         decode-records.ts        record -> contract-checked event; other types skipped
 *   traceEffects          trace-effects.ts         the event's effect, a span in the trace its record carries
 *   retryThenGiveUp       retry-then-give-up.ts    a failing handler: N counted tries, then given up
 *   waitOutOutages        wait-out-outages.ts      a dependency down: same message, waited out, uncounted
 *   numberedTries         (below)                  the consumer's own handler
 */

export interface HandlerContext {
  topic: string;
  partition: number;
  offset: string;
  /** 1 on first delivery to this process; counts every try, transient ones included. */
  attempt: number;
  logger: Logger;
}

/** Applies one event; returns what it did (for the log). Throw to have it retried. */
export type EventHandler = (event: CheckoutEvent, ctx: HandlerContext) => Promise<string>;

export interface EventConsumerOptions {
  /** The consumer group: one per consumer, never shared. */
  groupId: string;
  brokers: string[];
  clientId: string;
  /** SASL and TLS of the process (kafkaSecurity(config)); none on the local stack. */
  security?: KafkaSecurity;
  topic: string;
  dlqTopic: string;
  /** Event types this consumer acts on; any other record is acknowledged without validating its data. */
  handles: readonly CheckoutEventType[];
  handler: EventHandler;
  logger: Logger;
  /** Non-transient failures of one message before it is dead-lettered (default 5). */
  maxAttempts?: number;
  /** Failures to wait out without counting; default: database, network and Kafka outages. */
  isTransient?: (err: unknown) => boolean;
  retry?: {
    /** First wait after a failure (default 200 ms), doubling per attempt. */
    initialMs?: number;
    /** Cap of the wait between counted attempts (default 5 s). */
    maxMs?: number;
    /** Cap of the wait while a dependency is down (default 30 s): how soon it notices recovery. */
    transientMaxMs?: number;
  };
  /** Partitions processed at once (default 3): a slow partition then holds up only itself. */
  partitionsConsumedConcurrently?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** How often done offsets are committed (default 1 s); redelivery after a crash is bounded by it, duplicates are dropped anyway. */
  autoCommitIntervalMs?: number;
}

export interface EventConsumer {
  readonly groupId: string;
  start(): Promise<void>;
  /** Finishes the message in hand, commits what is done, leaves the group. */
  stop(): Promise<void>;
  /** Resolves when the consumer crashed for good (kafkajs gave up restarting it). */
  readonly crashed: Promise<Error>;
}

export function createEventConsumer(options: EventConsumerOptions): EventConsumer {
  const log = options.logger.child({ consumerGroup: options.groupId });
  const initialMs = options.retry?.initialMs ?? 200;
  const transientMaxMs = options.retry?.transientMaxMs ?? 30_000;

  const kafka = new Kafka({
    clientId: `${options.clientId}-${options.groupId}`,
    brokers: options.brokers,
    ...options.security,
    // Rebalances and reconnects are routine; kafkajs' errors still reach the service log.
    logLevel: logLevel.ERROR,
    logCreator: kafkajsToPino,
    retry: { initialRetryTime: 300, retries: 8 },
  });
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: options.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: options.heartbeatIntervalMs ?? 3_000,
    maxWaitTimeInMs: 500,
  });
  const dlq = deadLetterProducer(kafka, options.dlqTopic);

  let resolveCrashed: (err: Error) => void = () => {};
  const crashed = new Promise<Error>((resolve) => (resolveCrashed = resolve));

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    log.info({ partitions: [...(e.payload.memberAssignment[options.topic] ?? [])].sort((a, b) => a - b) }, 'joined consumer group');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    const err = e.payload.error;
    if (e.payload.restart) {
      log.warn({ err }, 'consumer crashed; kafkajs restarts it');
    } else {
      log.error({ err }, 'consumer crashed and will not restart');
      resolveCrashed(err);
    }
  });

  // A record's way down, outermost first.
  const handleRecord: RecordHandler = deadLetterGivenUp({ topic: options.topic, consumerGroup: options.groupId, send: dlq.send, initialMs, maxMs: transientMaxMs })(
    decodeRecords(options.handles)(
      traceEffects({ topic: options.topic, consumerGroup: options.groupId })(
        retryThenGiveUp({ maxAttempts: options.maxAttempts ?? 5, initialMs, maxMs: options.retry?.maxMs ?? 5_000 })(
          waitOutOutages({ isTransient: options.isTransient ?? isTransientInfrastructureError, initialMs, maxMs: transientMaxMs })(
            numberedTries(options.handler),
          ),
        ),
      ),
    ),
  );

  let stopping: Promise<void> | undefined;
  return {
    groupId: options.groupId,
    crashed,

    async start() {
      await consumer.connect();
      await consumer.subscribe({ topic: options.topic, fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 3,
        // Offsets are resolved one message at a time, by the batch loop, after its effect committed.
        eachBatchAutoResolve: false,
        autoCommit: true,
        autoCommitInterval: options.autoCommitIntervalMs ?? 1_000,
        eachBatch: inOrderBatches(handleRecord, log),
      });
    },

    stop() {
      stopping ??= (async () => {
        await consumer.disconnect();
        await dlq.disconnect();
      })();
      return stopping;
    },
  };
}

/** The consumer's own handler, at the bottom of the chain: each call numbered, what it did logged. */
function numberedTries(handler: EventHandler): DeliveredEventHandler {
  return async (event, delivery) => {
    delivery.tries += 1;
    const outcome = await handler(event, { topic: delivery.topic, partition: delivery.partition, offset: delivery.message.offset, attempt: delivery.tries, logger: delivery.logger });
    delivery.logger.debug({ outcome }, 'event handled');
    return outcome;
  };
}

/** Writes dead letters; connected on the first one, since a healthy consumer never needs it. */
function deadLetterProducer(kafka: Kafka, dlqTopic: string): { send(record: Message): Promise<void>; disconnect(): Promise<void> } {
  // Same partitioner as the publisher, so a dead letter lands on its order's partition number.
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  let connected: Promise<void> | undefined;
  const connect = () =>
    (connected ??= producer.connect().catch((err: unknown) => {
      connected = undefined;
      throw err;
    }));
  return {
    async send(record) {
      await connect();
      await producer.send({ topic: dlqTopic, acks: -1, messages: [record] });
    },
    async disconnect() {
      if (connected) await producer.disconnect();
    },
  };
}
