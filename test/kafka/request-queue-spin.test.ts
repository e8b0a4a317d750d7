import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { parseConfig } from '../../src/config';
import { kafkaClientOptions } from '../../src/kafka/client-config';

/**
 * kafkajs 2.2.4 re-checks every broker connection's request queue each millisecond once a request
 * has been answered, with nothing waiting (tulios/kafkajs#1751): CPU every process of the service
 * spends doing nothing. The service's Kafka clients must not.
 */
const RequestQueue = createRequire(__filename)('kafkajs/src/network/requestQueue') as { prototype: { checkPendingRequests(): void } };

describe('a Kafka client of the service at rest', () => {
  let producer: Producer;
  let admin: Admin;
  let checks = 0;
  // A topic of its own: the run's event topic is read from its start by every saga harness, whose
  // consumers expect outcome events there, not this test's bytes.
  const topic = `spin-test-${randomUUID()}`;
  const original = RequestQueue.prototype.checkPendingRequests;
  beforeAll(async () => {
    RequestQueue.prototype.checkPendingRequests = function counted(this: unknown) {
      checks += 1;
      return original.call(this);
    };
    const cfg = parseConfig(process.env);
    // One request in flight at a time: a burst has to wait in the queue, the path the fix must keep.
    const kafka = new Kafka({ ...kafkaClientOptions(cfg, 'spin-test'), logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    producer = kafka.producer({ maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
  });
  afterAll(async () => {
    await producer?.disconnect();
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.disconnect();
    RequestQueue.prototype.checkPendingRequests = original;
  });

  it('does not poll its request queues while nothing waits, and still sends what queues up behind the in-flight limit', async () => {
    await producer.send({ topic, messages: [{ key: randomUUID(), value: 'spin-test' }] });

    checks = 0;
    await new Promise((resolve) => setTimeout(resolve, 500));
    // With the spin, about one check per millisecond per connection: hundreds here.
    expect(checks).toBeLessThan(20);

    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => producer.send({ topic, messages: [{ key: `burst-${i}`, value: 'spin-test' }] })));
    expect(burst.flat().every((r) => r.errorCode === 0)).toBe(true);
  });
});
