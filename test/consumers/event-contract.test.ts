import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { CloudEvent, Kafka as KafkaBinding } from 'cloudevents';
import { ConfigResourceTypes, Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { JSON_SCHEMA_DIR, renderEventJsonSchemaFiles } from '../../tools/scripts/generate-event-schemas';
import { decodeEnvelope, UndecodableMessage, validateEvent } from '../../src/kafka/consumer/decode';
import { CHECKOUT_EVENT_TYPES, type OutcomeEvent } from '../../src/events/contract';
import { readTopic, completedOrderStory, publishAll, startConsumerTestBed, type ConsumerTestBed } from './support';

/** The other outcomes, as the saga publishes them, so every type is checked against a real record. */
function otherOutcomes(orderId: string, checkoutId: string, email: string): OutcomeEvent[] {
  const base = (sequence: number) => ({ orderId, checkoutId, customerEmail: email, sequence });
  return [
    { id: `checkout-${checkoutId}:payment.voided`, type: 'payment.voided', data: { ...base(10), paymentIntentId: 'pi_voided' } },
    { id: `checkout-${checkoutId}:stock.released`, type: 'stock.released', data: { ...base(11), lines: [{ sku: 'MUG-BLUE', quantity: 2 }] } },
    { id: `checkout-${checkoutId}:checkout.needs_attention:1`, type: 'checkout.needs_attention', data: { ...base(12), pendingCompensations: ['refundPayment'] } },
    { id: `checkout-${checkoutId}:checkout.failed`, type: 'checkout.failed', data: { ...base(13), code: 'PAYMENT_DECLINED', message: 'Your card was declined.', step: 'capturePayment' } },
    { id: `checkout-${checkoutId}:checkout.cancelled`, type: 'checkout.cancelled', data: { ...base(14), reason: 'customer called' } },
    { id: `checkout-${checkoutId}:payment.authorized`, type: 'payment.authorized', data: { ...base(15), amount: 3399, currency: 'EUR', paymentIntentId: 'pi_held' } },
  ];
}

describe('the event contract: one zod schema per type, JSON Schema generated from it, the CloudEvents Kafka binding on both sides', () => {
  it('keeps src/events/json-schema/ exactly as tools/scripts/generate-event-schemas.ts writes it (run it after changing a schema)', () => {
    const expected = renderEventJsonSchemaFiles();
    const committed = readdirSync(JSON_SCHEMA_DIR).filter((f) => f.endsWith('.json'));
    expect(committed.sort()).toEqual(Object.keys(expected).sort());
    for (const [file, content] of Object.entries(expected)) expect({ file, content: readFileSync(path.join(JSON_SCHEMA_DIR, file), 'utf8') }).toEqual({ file, content });
  });

  it('covers every type DESIGN.md names, and the ones the saga added', () => {
    const design = ['checkout.started', 'stock.reserved', 'payment.captured', 'user.created', 'order.confirmed', 'checkout.failed', 'checkout.cancelled', 'stock.released', 'payment.refunded'];
    const added = ['checkout.needs_attention', 'payment.voided', 'payment.authorized', 'payment.disputed', 'payment.dispute_closed'];
    expect([...CHECKOUT_EVENT_TYPES].sort()).toEqual([...design, ...added].sort());
  });

  describe('records the real publisher wrote to Kafka', () => {
    let bed: ConsumerTestBed;
    let records: Array<{ message: KafkaMessage }>;
    beforeAll(async () => {
      bed = await startConsumerTestBed('contract');
      const story = completedOrderStory({ refunds: [500], dispute: { amount: 1000, outcome: 'lost' } });
      await publishAll(bed.publisher, [...story.events, ...otherOutcomes(story.orderId, story.checkoutId, story.email)]);
      const kafka = new Kafka({ clientId: 'contract-test', brokers: bed.config.KAFKA_BROKERS, logLevel: logLevel.NOTHING });
      records = await readTopic(kafka, bed.admin, bed.config.KAFKA_TOPIC, (message) => ({ message }));
    });
    afterAll(async () => {
      await bed?.close();
    });

    it('sit on topics created to keep their history (retention.ms=-1) with the configured partitions', async () => {
      const { resources } = await bed.admin.describeConfigs({
        includeSynonyms: false,
        resources: [bed.config.KAFKA_TOPIC, bed.config.KAFKA_DLQ_TOPIC].map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms'] })),
      });
      expect(resources.map((r) => r.configEntries.find((e) => e.configName === 'retention.ms')?.configValue)).toEqual(['-1', '-1']);
      const { topics } = await bed.admin.fetchTopicMetadata({ topics: [bed.config.KAFKA_TOPIC, bed.config.KAFKA_DLQ_TOPIC] });
      expect(topics.map((t) => t.partitions.length)).toEqual([bed.config.KAFKA_TOPIC_PARTITIONS, bed.config.KAFKA_TOPIC_PARTITIONS]);
    });

    it('are one of each type, and each passes its zod schema and its committed JSON Schema', () => {
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      addFormats(ajv);
      const seen = new Set<string>();
      for (const { message } of records) {
        const envelope = decodeEnvelope(message);
        const event = validateEvent(envelope);
        seen.add(event.type);
        const schema = JSON.parse(readFileSync(path.join(JSON_SCHEMA_DIR, `${event.type}.json`), 'utf8')) as object;
        const onTheWire = JSON.parse(message.value!.toString()) as unknown;
        const valid = ajv.validate(schema, onTheWire);
        expect({ type: event.type, errors: valid ? null : ajv.errors }).toEqual({ type: event.type, errors: null });
        // Key = order id = subject: one order, one partition.
        expect(message.key?.toString()).toBe(event.data.orderId);
        expect(event.subject).toBe(event.data.orderId);
      }
      expect([...seen].sort()).toEqual([...CHECKOUT_EVENT_TYPES].sort());
    });
  });

  it('accepts a binary-mode CloudEvent too (the SDK binding decides the mode from the headers)', () => {
    const story = completedOrderStory();
    const confirmed = story.events[4]!;
    const ce = new CloudEvent({ id: confirmed.id, source: 'urn:checkout-saga', type: confirmed.type, subject: confirmed.data.orderId, time: new Date().toISOString(), datacontenttype: 'application/json', data: confirmed.data });
    const binary = KafkaBinding.binary(ce);
    // The SDK lists unset attributes as undefined headers; Kafka carries only the ones with a value.
    const headers = Object.fromEntries(Object.entries(binary.headers).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Buffer.from(String(v))]));
    const event = validateEvent(decodeEnvelope({ key: Buffer.from(confirmed.data.orderId), value: Buffer.from(JSON.stringify(binary.value)), headers }));
    expect(event).toMatchObject({ id: confirmed.id, type: 'order.confirmed', data: { orderId: confirmed.data.orderId, amount: 3399 } });
  });

  it('ignores a field it does not know (an additive change) and refuses one that breaks a rule', () => {
    const story = completedOrderStory();
    const confirmed = story.events[4]!;
    const record = (data: unknown) => {
      const m = KafkaBinding.structured(new CloudEvent({ id: confirmed.id, source: 'urn:checkout-saga', type: confirmed.type, time: new Date().toISOString(), datacontenttype: 'application/json', data }));
      return { key: null, value: Buffer.from(String(m.value)), headers: { 'content-type': Buffer.from(String(m.headers['content-type'])) } };
    };
    const extended = validateEvent(decodeEnvelope(record({ ...confirmed.data, loyaltyPoints: 12 })));
    expect(extended.data).not.toHaveProperty('loyaltyPoints');
    const thrown = (() => {
      try {
        validateEvent(decodeEnvelope(record({ ...confirmed.data, sequence: 0 })));
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(UndecodableMessage);
    expect(thrown).toMatchObject({ kind: 'schema', eventId: confirmed.id, eventType: 'order.confirmed', message: expect.stringContaining('sequence') });
  });
});
