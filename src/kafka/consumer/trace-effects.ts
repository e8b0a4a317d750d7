import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type TextMapGetter } from '@opentelemetry/api';
import type { IHeaders } from 'kafkajs';
import { DeliveryInterrupted, type DeliveredEventHandler } from './delivery';
import { errorMessage } from './failures';

/** A no-op until the process starts tracing (src/tracing/tracing.ts). */
const tracer = trace.getTracer('checkout-saga-kafka');

export interface TraceEffectsOptions {
  topic: string;
  consumerGroup: string;
}

/**
 * Each event this consumer acts on, one span for its effect: a child of the publish span whose
 * context the record carries in its W3C `traceparent`/`tracestate` headers (src/kafka/publisher.ts),
 * so the projection of an order and its email sit in the trace of the request that started the
 * checkout. The span covers every try of the event in this process and says how it ended: the
 * handler's outcome, or the failure it was given up for. A record without trace headers starts a
 * trace of its own; while tracing is off, this is the OpenTelemetry API's no-op.
 */
export function traceEffects({ topic, consumerGroup }: TraceEffectsOptions): (next: DeliveredEventHandler) => DeliveredEventHandler {
  return (next) => (event, delivery) => {
    const published = propagation.extract(ROOT_CONTEXT, delivery.message.headers ?? {}, recordHeaders);
    const attributes = {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.destination.name': topic,
      'messaging.destination.partition.id': String(delivery.partition),
      'messaging.kafka.offset': Number(delivery.message.offset),
      'messaging.consumer.group.name': consumerGroup,
      'messaging.message.id': event.id,
      'cloudevents.event_id': event.id,
      'cloudevents.event_type': event.type,
    };
    return tracer.startActiveSpan(`${consumerGroup} process ${event.type}`, { kind: SpanKind.CONSUMER, attributes }, published, async (span) => {
      try {
        // The consumer's log lines of this event name the trace they belong to.
        const { traceId, spanId } = span.spanContext();
        const outcome = await next(event, span.isRecording() ? { ...delivery, logger: delivery.logger.child({ traceId, spanId }) } : delivery);
        span.setAttribute('checkout_saga.consumer.outcome', outcome);
        return outcome;
      } catch (err) {
        // Let go of for redelivery, not failed: the next delivery has its own span.
        if (!(err instanceof DeliveryInterrupted)) span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
        throw err;
      } finally {
        span.end();
      }
    });
  };
}

/** Reads the record's headers (Buffers, as kafkajs delivers them) only when a propagator asks for one. */
const recordHeaders: TextMapGetter<IHeaders> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => {
    const value = headers[key];
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value.map((v) => v.toString()) : value.toString();
  },
};
