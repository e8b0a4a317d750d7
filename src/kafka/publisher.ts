import { CloudEvent, Kafka as KafkaBinding } from 'cloudevents';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { OutcomeEvent } from '../events/contract';
import type { KafkaSecurity } from './client-config';
import { cloudEventAttributes } from '../events/outcome-events';

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
      await connected();
      const cloudEvent = new CloudEvent({ ...cloudEventAttributes(event, time.toISOString()) });
      const message = KafkaBinding.structured(cloudEvent);
      await producer.send({
        topic: opts.topic,
        acks: -1,
        messages: [{ key: String(message.key), value: String(message.value), headers: stringHeaders(message.headers) }],
      });
    },
    async disconnect() {
      await producer.disconnect();
    },
  };
}

function stringHeaders(headers: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
}
