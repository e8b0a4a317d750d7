import type { CheckoutEventType } from '../../events/contract';
import { decodeEnvelope, validateEvent } from './decode';
import type { DeliveredEventHandler, RecordHandler } from './delivery';

/**
 * Record -> event, through the CloudEvents Kafka binding and the contract (`decode.ts`). A type the
 * consumer does not act on is done with at once, its data unchecked: an event it ignores must not
 * become its dead letter. A record that cannot be decoded throws UndecodableMessage, which no retry
 * can fix: the dead-letter wrapper above takes it.
 */
export function decodeRecords(handles: readonly CheckoutEventType[]): (next: DeliveredEventHandler) => RecordHandler {
  const actedOn = new Set<string>(handles);
  return (next) => async (delivery) => {
    const envelope = decodeEnvelope(delivery.message);
    if (!actedOn.has(envelope.type)) return;
    const event = validateEvent(envelope);
    const logger = delivery.logger.child({ eventId: event.id, eventType: event.type, orderId: event.data.orderId, partition: delivery.partition, offset: delivery.message.offset });
    await next(event, { ...delivery, logger });
  };
}
