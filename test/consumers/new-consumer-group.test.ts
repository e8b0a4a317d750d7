import type { CheckoutEvent } from '../../src/kafka/consumer/decode';
import { createEventConsumer, type EventConsumer } from '../../src/kafka/consumer/runtime';
import { CHECKOUT_EVENT_TYPES } from '../../src/events/contract';
import { logger } from '../../src/logger';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { eventually, startConsumerTestBed, type ConsumerTestBed } from './support';

/**
 * DESIGN.md: "a new consumer added later reads the whole retained history without any change to the
 * saga or to other consumers". An analytics-like consumer that did not exist during 20 checkouts is
 * started afterwards in a group of its own, on the shared runtime, and gets every one of their events.
 */
describe('a brand-new consumer group started after 20 checkouts', () => {
  let bed: ConsumerTestBed;
  let h: SagaHarness;
  let latecomer: EventConsumer | undefined;
  beforeAll(async () => {
    bed = await startConsumerTestBed('new-group');
    h = await startSagaHarness({ env: bed.env });
  });
  afterAll(async () => {
    await latecomer?.stop();
    await h?.close();
    await bed?.close();
  });

  it('receives every event of every one of them from the start, each order in sequence order', async () => {
    const projector = await bed.startProjector();
    const sku = await h.seedProduct({ stock: 100, priceMinor: 990 });
    const started = await Promise.all(
      Array.from({ length: 20 }, (_, i) => h.startCheckout({ items: [{ sku, quantity: 1 + (i % 3) }], paymentMethodId: i % 5 === 4 ? 'pm_card_chargeDeclined' : 'pm_card_visa' })),
    );
    const results = await Promise.all(started.map(({ input }) => h.result(input.checkoutId)));
    expect(results.map((r) => r.status).sort()).toEqual([...Array(16).fill('COMPLETED'), ...Array(4).fill('FAILED')]);
    const published = (
      await Promise.all(started.map(({ input }) => h.events(input.orderId, (es) => es.some((e) => e.type === 'order.confirmed' || e.type === 'checkout.failed'))))
    ).flat();
    expect(published.length).toBeGreaterThanOrEqual(20 * 3);

    const received: CheckoutEvent[] = [];
    latecomer = createEventConsumer({
      groupId: bed.groupId('analytics-latecomer'),
      brokers: bed.config.KAFKA_BROKERS,
      clientId: 'new-group-test',
      topic: bed.config.KAFKA_TOPIC,
      dlqTopic: bed.config.KAFKA_DLQ_TOPIC,
      handles: CHECKOUT_EVENT_TYPES,
      handler: async (event) => {
        received.push(event);
        return 'counted';
      },
      logger,
    });
    await latecomer.start();

    await eventually(async () => expect(new Set(received.map((e) => e.id))).toEqual(new Set(published.map((e) => e.id))), 60_000);
    for (const { input } of started) {
      const sequences = received.filter((e) => e.data.orderId === input.orderId).map((e) => e.data.sequence);
      expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
      expect(sequences[0]).toBe(1);
    }

    // The groups are independent: the latecomer's position is its own, the projector's is untouched.
    const end = (await bed.admin.fetchTopicOffsets(bed.config.KAFKA_TOPIC)).map((p) => ({ partition: p.partition, offset: p.high }));
    const positionOf = async (groupId: string) =>
      (await bed.admin.fetchOffsets({ groupId, topics: [bed.config.KAFKA_TOPIC] }))[0]!.partitions.map(({ partition, offset }) => ({ partition, offset })).sort((a, b) => a.partition - b.partition);
    await eventually(async () => {
      expect(await positionOf(latecomer!.groupId)).toEqual(end.sort((a, b) => a.partition - b.partition));
      expect(await positionOf(projector.groupId)).toEqual(end.sort((a, b) => a.partition - b.partition));
    });
  });
});
