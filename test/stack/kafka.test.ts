import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { parseConfig } from '../../src/config';
import { stackEnv } from '../support/stack-env';

const brokers = () => stackEnv().KAFKA_BROKERS.split(',');
const kafka = () => new Kafka({ clientId: `stack-test-${randomUUID()}`, brokers: brokers(), logLevel: logLevel.NOTHING });

describe('Kafka in the local stack', () => {
  let admin: Admin;
  const topic = `stack-test-${randomUUID()}`;

  beforeAll(async () => {
    admin = kafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('round-trips a record: idempotent producer with acks=all in, a fresh consumer group reads it from the start', async () => {
    const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    const key = randomUUID();
    try {
      await producer.send({ topic, acks: -1, messages: [{ key, value: JSON.stringify({ hello: 'kafka' }), headers: { 'ce-id': key } }] });
    } finally {
      await producer.disconnect();
    }

    const consumer = kafka().consumer({ groupId: `stack-test-${randomUUID()}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = await new Promise<{ key: string; value: string; id: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no record within 30 s')), 30_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            clearTimeout(timer);
            resolve({ key: String(message.key), value: String(message.value), id: String(message.headers?.['ce-id']) });
          },
        });
      });
      expect(received).toEqual({ key, value: '{"hello":"kafka"}', id: key });
    } finally {
      await consumer.disconnect();
    }
  });

  it('has the outcome topic and its dead-letter topic, with the configured partition count', async () => {
    const config = parseConfig(stackEnv() as unknown as NodeJS.ProcessEnv);
    const { topics } = await admin.fetchTopicMetadata({ topics: [config.KAFKA_TOPIC, config.KAFKA_DLQ_TOPIC] });
    expect(topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual([
      [config.KAFKA_TOPIC, config.KAFKA_TOPIC_PARTITIONS],
      [config.KAFKA_DLQ_TOPIC, config.KAFKA_TOPIC_PARTITIONS],
    ]);
  });

  it('refuses to auto-create a topic, so a misspelt topic name fails instead of silently writing nowhere', async () => {
    const producer = new Kafka({ clientId: 'stack-test', brokers: brokers(), logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 100 } }).producer({ allowAutoTopicCreation: true });
    await producer.connect();
    try {
      await expect(producer.send({ topic: `stack-test-missing-${randomUUID()}`, messages: [{ value: 'x' }] })).rejects.toThrow();
    } finally {
      await producer.disconnect();
    }
  });
});
