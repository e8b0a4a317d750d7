import { Kafka, logLevel, Partitioners, type Consumer, type EachBatchPayload, type KafkaMessage, type Producer } from 'kafkajs';
import type { CheckoutEventType } from '../../events/contract';
import { kafkajsToPino } from '../topics';
import type { Logger } from '../../logger';
import { deadLetterMessage, type DeadLetterKind } from './dead-letters';
import { decodeEnvelope, UndecodableMessage, validateEvent, type CheckoutEvent } from './decode';
import { backoffMs, errorMessage, isTransientInfrastructureError, rootCause } from './failures';

/**
 * The runtime every downstream consumer shares. Per consumer: its own consumer group reading
 * `checkout.events` from the earliest retained offset, so a consumer added later sees the whole
 * history. Per message, in partition order: decode through the CloudEvents Kafka binding, validate
 * against the contract, call the handler (which dedupes by event id in its own transaction), and
 * only then resolve the offset. A record that cannot be decoded, or whose handler keeps failing,
 * is copied to the DLQ with headers saying why, and the partition moves on. An outage of what the
 * handler talks to (database, mail server) is waited out on the same message, never skipped and
 * never dead-lettered.
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

/** Cut a long wait into slices so the group still sees a heartbeat while a message is retried. */
const WAIT_SLICE_MS = 1_000;

export function createEventConsumer(options: EventConsumerOptions): EventConsumer {
  const log = options.logger.child({ consumerGroup: options.groupId });
  const maxAttempts = options.maxAttempts ?? 5;
  const isTransient = options.isTransient ?? isTransientInfrastructureError;
  const initialMs = options.retry?.initialMs ?? 200;
  const maxMs = options.retry?.maxMs ?? 5_000;
  const transientMaxMs = options.retry?.transientMaxMs ?? 30_000;
  const handles = new Set<string>(options.handles);

  const kafka = new Kafka({
    clientId: `${options.clientId}-${options.groupId}`,
    brokers: options.brokers,
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
  // Same partitioner as the publisher, so a dead letter lands on its order's partition number.
  const dlqProducer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  // Connected on the first dead letter: a healthy consumer never needs it.
  let dlqConnected: Promise<void> | undefined;
  const connectDlq = () =>
    (dlqConnected ??= dlqProducer.connect().catch((err: unknown) => {
      dlqConnected = undefined;
      throw err;
    }));

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

  type Control = Pick<EachBatchPayload, 'heartbeat' | 'isRunning' | 'isStale'>;

  /** Waits `ms`, heartbeating; false when the consumer is stopping or lost the partition meanwhile. */
  async function pause(ms: number, ctl: Control): Promise<boolean> {
    const until = Date.now() + ms;
    for (;;) {
      if (!ctl.isRunning() || ctl.isStale()) return false;
      const left = until - Date.now();
      if (left <= 0) return true;
      await new Promise((r) => setTimeout(r, Math.min(left, WAIT_SLICE_MS)));
      // Throws when the group is rebalancing: kafkajs catches that above us and rejoins.
      await ctl.heartbeat();
    }
  }

  /** Publishes the dead letter, waiting out a Kafka outage; false only when stopping first. */
  async function deadLetter(message: KafkaMessage, partition: number, kind: DeadLetterKind, error: string, attempts: number, ids: { eventId?: string | undefined; eventType?: string | undefined }, ctl: Control): Promise<boolean> {
    const record = deadLetterMessage(message, { topic: options.topic, partition, consumerGroup: options.groupId, kind, error, attempts, ...ids });
    for (let attempt = 1; ; attempt++) {
      try {
        await connectDlq();
        await dlqProducer.send({ topic: options.dlqTopic, acks: -1, messages: [record] });
        log.warn({ partition, offset: message.offset, kind, attempts, error, ...ids }, 'message dead-lettered; the partition moves on');
        return true;
      } catch (err) {
        log.error({ err, partition, offset: message.offset }, 'could not write the dead letter; retrying before moving on');
        if (!(await pause(backoffMs(attempt, initialMs, transientMaxMs), ctl))) return false;
      }
    }
  }

  /** true: done with the message (handled, skipped or dead-lettered); false: stop without resolving it. */
  async function processMessage(message: KafkaMessage, partition: number, ctl: Control): Promise<boolean> {
    let event: CheckoutEvent;
    try {
      const envelope = decodeEnvelope(message);
      if (!handles.has(envelope.type)) return true;
      event = validateEvent(envelope);
    } catch (err) {
      if (!(err instanceof UndecodableMessage)) throw err;
      return deadLetter(message, partition, err.kind, err.message, 1, { eventId: err.eventId, eventType: err.eventType }, ctl);
    }

    const eventLog = log.child({ eventId: event.id, eventType: event.type, orderId: event.data.orderId, partition, offset: message.offset });
    let failures = 0;
    let outageSince: number | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await options.handler(event, { topic: options.topic, partition, offset: message.offset, attempt, logger: eventLog });
        if (outageSince !== undefined) eventLog.info({ waitedMs: Date.now() - outageSince, attempt }, 'dependency back; message handled');
        eventLog.debug({ outcome }, 'event handled');
        return true;
      } catch (err) {
        if (isTransient(err)) {
          if (outageSince === undefined) {
            outageSince = Date.now();
            eventLog.warn({ err: errorMessage(err) }, 'dependency unavailable; retrying this message until it is back');
          } else if (attempt % 10 === 0) {
            eventLog.warn({ err: errorMessage(err), attempt, waitingMs: Date.now() - outageSince }, 'dependency still unavailable');
          }
          if (!(await pause(backoffMs(attempt, initialMs, transientMaxMs), ctl))) return false;
          continue;
        }
        failures += 1;
        eventLog.warn({ err: rootCause(err), failures, maxAttempts }, 'handler failed');
        if (failures >= maxAttempts) {
          return deadLetter(message, partition, 'handler', errorMessage(err), failures, { eventId: event.id, eventType: event.type }, ctl);
        }
        if (!(await pause(backoffMs(failures, initialMs, maxMs), ctl))) return false;
      }
    }
  }

  let stopping: Promise<void> | undefined;
  return {
    groupId: options.groupId,
    crashed,

    async start() {
      await consumer.connect();
      await consumer.subscribe({ topic: options.topic, fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 3,
        // Offsets are resolved one message at a time, after its effect committed; a batch left
        // half-way (stop, rebalance) resumes at the first message not done.
        eachBatchAutoResolve: false,
        autoCommit: true,
        autoCommitInterval: options.autoCommitIntervalMs ?? 1_000,
        eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, isStale }) => {
          const ctl: Control = { heartbeat, isRunning, isStale };
          for (const message of batch.messages) {
            if (!isRunning() || isStale()) return;
            if (!(await processMessage(message, batch.partition, ctl))) return;
            resolveOffset(message.offset);
            await commitOffsetsIfNecessary();
            await heartbeat();
          }
        },
      });
    },

    stop() {
      stopping ??= (async () => {
        await consumer.disconnect();
        if (dlqConnected) await dlqProducer.disconnect();
      })();
      return stopping;
    },
  };
}
