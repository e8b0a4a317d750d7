import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { CloudEvent, Kafka as KafkaBinding } from 'cloudevents';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { OutcomeEvent } from '../events/contract';
import type { KafkaSecurity } from './client-config';
import { cloudEventAttributes } from '../events/outcome-events';
import { errorMessage } from './consumer/failures';

/** A no-op until the process starts tracing (src/tracing/tracing.ts). */
const tracer = trace.getTracer('checkout-saga-kafka');

export interface EventPublisher {
  publish(event: OutcomeEvent, time?: Date): Promise<void>;
  disconnect(): Promise<void>;
}

export interface EventPublisherOptions {
  brokers: string[];
  clientId: string;
  /** SASL and TLS of the process (kafkaSecurity(config)); none on the local stack. */
  security?: KafkaSecurity;
  topic: string;
}

/**
 * One idempotent producer per process. Idempotence plus acks=all means a kafkajs-internal retry
 * never writes a second copy; a retry of the whole activity re-sends the same CloudEvent id, which
 * consumers drop.
 */
export function createEventPublisher(opts: EventPublisherOptions): EventPublisher {
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    ...opts.security,
    logLevel: logLevel.NOTHING,
    // Fail a send within the activity's timeout so Temporal, not kafkajs, owns the long retry.
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
    connectionTimeout: 3_000,
  });
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  let connecting: Promise<void> | undefined;
  const connected = () => (connecting ??= producer.connect().catch((err: unknown) => {
    connecting = undefined;
    throw err;
  }));

  return {
    async publish(event, time = new Date()) {
      const cloudEvent = new CloudEvent({ ...cloudEventAttributes(event, time.toISOString()) });
      const message = KafkaBinding.structured(cloudEvent);
      const key = String(message.key);
      // One span per send, in the trace of the activity that publishes; the record carries its context
      // to the consumers as W3C `traceparent`/`tracestate` headers. The value stays byte for byte the
      // event (a re-send repeats it exactly); only these headers differ between two sends.
      await tracer.startActiveSpan(`publish ${event.type}`, { kind: SpanKind.PRODUCER, attributes: publishAttributes(opts.topic, key, event) }, async (span) => {
        try {
          await connected();
          const headers = stringHeaders(message.headers);
          propagation.inject(context.active(), headers);
          await producer.send({ topic: opts.topic, acks: -1, messages: [{ key, value: String(message.value), headers }] });
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
          throw err;
        } finally {
          span.end();
        }
      });
    },
    async disconnect() {
      await producer.disconnect();
    },
  };
}

/** OpenTelemetry's messaging conventions, and the CloudEvent's id and type to find the event by. */
function publishAttributes(topic: string, key: string, event: OutcomeEvent) {
  return {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'send',
    'messaging.destination.name': topic,
    'messaging.kafka.message.key': key,
    'messaging.message.id': event.id,
    'cloudevents.event_id': event.id,
    'cloudevents.event_type': event.type,
  };
}

function stringHeaders(headers: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
}
