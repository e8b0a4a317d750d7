/**
 * The one builder of outcome events, used by both workflows and by the refund ledger: it fixes an
 * event's id, type, per-order sequence and CloudEvents envelope once, so however often an event is
 * sent it is the same event. Safe in the workflow sandbox: plain data, no I/O and no clock of its
 * own (the caller gives the time, preferably one a database write recorded).
 */
import type { CheckoutEventDataByType, CheckoutEventType, EventBase, OutcomeEvent } from './contract';

export const EVENT_SOURCE = 'urn:checkout-saga';
export const EVENT_SPEC_VERSION = '1.0';

/** The order an event is about: what every event's data carries besides its own fields. */
export type EventSubject = Omit<EventBase, 'sequence'>;

/** What an event says beyond the order it is about and its place in the order's sequence. */
export type EventFields<T extends CheckoutEventType> = Omit<CheckoutEventDataByType[T], keyof EventBase>;

/** `checkout-<id>:stock.reserved`, `refund-<key>:payment.refunded`: one id per business event, ever. */
export function outcomeEventId(workflowId: string, type: CheckoutEventType, suffix = ''): string {
  return `${workflowId}:${type}${suffix}`;
}

/**
 * An order's events, numbered: the one place an order's sequence advances. The saga holds one for
 * its run, from 0; the refund ledger opens one at the last sequence the order recorded. A number is
 * given out once, when the event is built: an event built and then not sent (a step that failed)
 * leaves a gap, never a repeat. Consumers order by it and never count on it being contiguous.
 */
export class OrderEvents {
  constructor(
    private readonly subject: EventSubject,
    private lastSequence = 0,
  ) {}

  /** The sequence of the last event built. */
  get last(): number {
    return this.lastSequence;
  }

  next<T extends CheckoutEventType>(type: T, id: string, fields: EventFields<T>): OutcomeEvent<T> {
    this.lastSequence += 1;
    return recordedEvent(this.subject, this.lastSequence, type, id, fields);
  }
}

/** An event whose sequence was given out earlier and recorded (a refund's): built the same each time. */
export function recordedEvent<T extends CheckoutEventType>(subject: EventSubject, sequence: number, type: T, id: string, fields: EventFields<T>): OutcomeEvent<T> {
  return { id, type, data: { ...subject, sequence, ...fields } as CheckoutEventDataByType[T] };
}

/** The CloudEvents 1.0 attributes an outcome event goes on Kafka with (structured mode, key = order id). */
export function cloudEventAttributes(event: OutcomeEvent, time: string) {
  return {
    specversion: EVENT_SPEC_VERSION,
    id: event.id,
    source: EVENT_SOURCE,
    type: event.type,
    subject: event.data.orderId,
    time,
    datacontenttype: 'application/json',
    partitionkey: event.data.orderId,
    data: event.data,
  } as const;
}
