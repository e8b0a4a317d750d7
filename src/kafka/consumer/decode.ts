import { CloudEvent, Kafka as KafkaBinding, ValidationError, type CloudEventV1, type KafkaMessage as CloudEventsKafkaMessage } from 'cloudevents';
import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { z } from 'zod';
import type { CheckoutEventDataByType, CheckoutEventType } from '../../events/contract';
import { EVENT_DATA_SCHEMAS, envelopeSchema, isCheckoutEventType } from '../../events/schemas';

/**
 * Kafka record -> CloudEvent (through the SDK's Kafka binding, structured or binary mode) -> an
 * event checked against the contract. Two steps, because a consumer validates the `data` only of
 * the types it acts on: an event it ignores must not become its dead letter.
 */

export interface CheckoutEvent<T extends CheckoutEventType = CheckoutEventType> {
  id: string;
  type: T;
  source: string;
  subject: string | undefined;
  /** ISO 8601: when the business outcome happened. */
  time: string;
  data: CheckoutEventDataByType[T];
}

/** A valid CloudEvents envelope whose data has not been checked yet. */
export type EnvelopeOnly = Omit<CheckoutEvent, 'type' | 'data'> & { type: string; data: unknown };

export type UndecodableKind = 'unparseable' | 'schema';

/** A record no retry can fix: `unparseable` is not a CloudEvent at all, `schema` breaks the contract. */
export class UndecodableMessage extends Error {
  constructor(
    readonly kind: UndecodableKind,
    message: string,
    readonly eventId?: string,
    readonly eventType?: string,
  ) {
    super(message);
    this.name = 'UndecodableMessage';
  }
}

/** Kafka headers as the binding wants them: strings with lower-case names. */
export function stringHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name.toLowerCase()] = first.toString();
  }
  return out;
}

export function decodeEnvelope(message: Pick<KafkaMessage, 'key' | 'value' | 'headers'>): EnvelopeOnly {
  if (!message.value) throw new UndecodableMessage('unparseable', 'empty record value (tombstone or null)');
  const value = message.value.toString('utf8');
  const record: CloudEventsKafkaMessage<string> = { key: message.key?.toString() ?? '', value, body: value, headers: stringHeaders(message.headers) };
  let decoded: CloudEventV1<unknown> | CloudEventV1<unknown>[];
  try {
    decoded = KafkaBinding.toEvent(record);
  } catch (err) {
    // Bad JSON or no CloudEvent markers: not an event at all. Anything else (e.g. a `time` that is
    // not a date) is an event that breaks the spec.
    const kind = err instanceof SyntaxError || err instanceof ValidationError ? 'unparseable' : 'schema';
    throw new UndecodableMessage(kind, `${kind === 'unparseable' ? 'not a CloudEvent' : 'invalid CloudEvent'}: ${errorText(err)}`);
  }
  if (Array.isArray(decoded)) throw new UndecodableMessage('schema', 'a batch of CloudEvents; the topic carries one event per record');
  const parsed = decoded instanceof CloudEvent ? decoded : new CloudEvent(decoded, false);
  try {
    // The binding builds the event without validating it (strict = false); the spec's rules first.
    parsed.validate();
  } catch (err) {
    throw new UndecodableMessage('schema', `invalid CloudEvent: ${errorText(err)}`, stringOrUndefined(parsed.id), stringOrUndefined(parsed.type));
  }
  const attributes = envelopeSchema.safeParse({
    specversion: parsed.specversion,
    id: parsed.id,
    source: parsed.source,
    type: parsed.type,
    subject: parsed.subject,
    time: parsed.time,
    datacontenttype: parsed.datacontenttype,
    partitionkey: typeof parsed.partitionkey === 'string' && parsed.partitionkey !== '' ? parsed.partitionkey : undefined,
  });
  if (!attributes.success) {
    throw new UndecodableMessage('schema', `envelope: ${issues(attributes.error)}`, stringOrUndefined(parsed.id), stringOrUndefined(parsed.type));
  }
  const a = attributes.data;
  return { id: a.id, type: a.type, source: a.source, subject: a.subject, time: a.time, data: parsed.data };
}

/** The envelope's data checked against its type's schema; unknown keys are dropped. */
export function validateEvent(envelope: EnvelopeOnly): CheckoutEvent {
  if (!isCheckoutEventType(envelope.type)) {
    throw new UndecodableMessage('schema', `unknown event type ${envelope.type}`, envelope.id, envelope.type);
  }
  const result = EVENT_DATA_SCHEMAS[envelope.type].safeParse(envelope.data);
  if (!result.success) {
    throw new UndecodableMessage('schema', `${envelope.type} data: ${issues(result.error)}`, envelope.id, envelope.type);
  }
  return { ...envelope, type: envelope.type, data: result.data } as CheckoutEvent;
}

function issues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

function errorText(err: unknown): string {
  if (err instanceof ValidationError && Array.isArray(err.errors) && err.errors.length) {
    return `${err.message} (${err.errors.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('; ')})`;
  }
  return err instanceof Error ? err.message : String(err);
}

function stringOrUndefined(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
