import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { stringHeaders } from './decode';

/**
 * Dead letters on `checkout.events.dlq`: the original record byte for byte (key, value, its own
 * headers), plus headers that say where it came from and why it was given up. Keeping the original
 * intact is what makes a replay exact: `dlq replay` republishes it as it was, and consumers that
 * already processed it drop it by its CloudEvent id.
 */

export const DLQ_HEADER = {
  originalTopic: 'dlq-original-topic',
  originalPartition: 'dlq-original-partition',
  originalOffset: 'dlq-original-offset',
  originalTimestamp: 'dlq-original-timestamp',
  consumerGroup: 'dlq-consumer-group',
  error: 'dlq-error',
  /** `unparseable` (not a CloudEvent), `schema` (breaks the contract) or `handler` (kept failing). */
  errorKind: 'dlq-error-kind',
  attempts: 'dlq-attempts',
  failedAt: 'dlq-failed-at',
  eventId: 'dlq-event-id',
  eventType: 'dlq-event-type',
} as const;

export type DeadLetterKind = 'unparseable' | 'schema' | 'handler';

export interface DeadLetterReason {
  topic: string;
  partition: number;
  consumerGroup: string;
  kind: DeadLetterKind;
  error: string;
  attempts: number;
  eventId?: string | undefined;
  eventType?: string | undefined;
  failedAt?: Date;
}

/** A header value stays readable in any tool; a stack trace belongs in the logs, not here. */
const MAX_ERROR_LENGTH = 1_000;

export function deadLetterMessage(original: KafkaMessage, reason: DeadLetterReason): Message {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(original.headers ?? {})) {
    // A dead letter of a replayed dead letter describes the latest failure only.
    if (value !== undefined && !name.startsWith('dlq-')) headers[name] = value;
  }
  Object.assign(headers, {
    [DLQ_HEADER.originalTopic]: reason.topic,
    [DLQ_HEADER.originalPartition]: String(reason.partition),
    [DLQ_HEADER.originalOffset]: original.offset,
    [DLQ_HEADER.originalTimestamp]: original.timestamp,
    [DLQ_HEADER.consumerGroup]: reason.consumerGroup,
    [DLQ_HEADER.error]: reason.error.replace(/\s+/g, ' ').slice(0, MAX_ERROR_LENGTH),
    [DLQ_HEADER.errorKind]: reason.kind,
    [DLQ_HEADER.attempts]: String(reason.attempts),
    [DLQ_HEADER.failedAt]: (reason.failedAt ?? new Date()).toISOString(),
    ...(reason.eventId ? { [DLQ_HEADER.eventId]: reason.eventId } : {}),
    ...(reason.eventType ? { [DLQ_HEADER.eventType]: reason.eventType } : {}),
  });
  return { key: original.key, value: original.value, headers };
}

/** A dead letter as `dlq list` shows it. */
export interface DeadLetter {
  /** Where the dead letter itself is: `dlq replay <partition>:<offset>` names it by these. */
  partition: number;
  offset: string;
  timestamp: string;
  key: string | null;
  originalTopic: string | null;
  originalPartition: number | null;
  originalOffset: string | null;
  consumerGroup: string | null;
  errorKind: string | null;
  error: string | null;
  attempts: number | null;
  failedAt: string | null;
  eventId: string | null;
  eventType: string | null;
  /** The first bytes of the original value, for a record that is not even a CloudEvent. */
  valuePreview: string;
}

export function readDeadLetter(message: KafkaMessage, partition: number): DeadLetter {
  const h = stringHeaders(message.headers);
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);
  return {
    partition,
    offset: message.offset,
    timestamp: new Date(Number(message.timestamp)).toISOString(),
    key: message.key?.toString() ?? null,
    originalTopic: h[DLQ_HEADER.originalTopic] ?? null,
    originalPartition: num(h[DLQ_HEADER.originalPartition]),
    originalOffset: h[DLQ_HEADER.originalOffset] ?? null,
    consumerGroup: h[DLQ_HEADER.consumerGroup] ?? null,
    errorKind: h[DLQ_HEADER.errorKind] ?? null,
    error: h[DLQ_HEADER.error] ?? null,
    attempts: num(h[DLQ_HEADER.attempts]),
    failedAt: h[DLQ_HEADER.failedAt] ?? null,
    eventId: h[DLQ_HEADER.eventId] ?? null,
    eventType: h[DLQ_HEADER.eventType] ?? null,
    valuePreview: (message.value?.toString('utf8') ?? '').slice(0, 200),
  };
}

/** The record as it was before it was dead-lettered: what a replay publishes. */
export function originalRecord(deadLetter: KafkaMessage): Message {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(deadLetter.headers ?? {})) {
    if (value !== undefined && !name.startsWith('dlq-')) headers[name] = value;
  }
  return { key: deadLetter.key, value: deadLetter.value, headers };
}
