import { eq } from 'drizzle-orm';
import { connectDatabase, type DatabaseHandle } from '../../db/client';
import { orderHistoryOrders } from '../../db/order-history-schema';
import type { EventHandler } from '../../src/kafka/consumer/runtime';
import { pickFreePort } from '../../tools/stack';
import { completedOrderStory, eventually, orderRow, processedEvents, publishAll, startConsumerTestBed, type ConsumerTestBed } from './support';

/**
 * A dependency that is down is waited out on the message in hand: the partition holds, the message
 * is tried for as long as the outage lasts without those tries counting towards the dead-letter
 * limit (3 in these tests), and it is applied once the dependency answers. Here the outage is a
 * PostgreSQL nobody listens for: the projector's first query goes to a port with no server, and the
 * real driver's error is what the runtime classifies.
 */
describe('an outage of what a handler talks to is waited out on the same message, never dead-lettered', () => {
  let bed: ConsumerTestBed;
  let unreachable: DatabaseHandle;
  beforeAll(async () => {
    bed = await startConsumerTestBed('outages');
    unreachable = connectDatabase(`postgres://checkout:checkout@127.0.0.1:${await pickFreePort()}/checkout`, 1);
  });
  afterAll(async () => {
    await unreachable?.close();
    await bed?.close();
  });

  /** The projector, whose handler meets PostgreSQL down for event `eventId` while `isDown()`; `tries` gets each try's attempt number. */
  const outageFor =
    (eventId: string, isDown: () => boolean, tries: number[]) =>
    (handler: EventHandler): EventHandler =>
    async (event, ctx) => {
      if (event.id === eventId) {
        tries.push(ctx.attempt);
        if (isDown()) await unreachable.db.select().from(orderHistoryOrders).where(eq(orderHistoryOrders.orderId, event.data.orderId));
      }
      return handler(event, ctx);
    };

  it('tries the message through an outage longer than the attempt limit, holds the events behind it, then applies them all and dead-letters nothing', async () => {
    const story = completedOrderStory();
    const captured = story.events[2]!;
    let down = true;
    const tries: number[] = [];
    const projector = await bed.startProjector({ wrapHandler: outageFor(captured.id, () => down, tries) });
    await publishAll(bed.publisher, story.events);

    // Twice the attempt limit, every try refused by the outage.
    await eventually(async () => expect(tries.length).toBeGreaterThanOrEqual(6));
    // The order's partition waits on payment.captured: what came before it is applied, nothing after.
    expect((await processedEvents(bed.database.db, [story.orderId])).map((p) => p.eventType).sort()).toEqual(['checkout.started', 'stock.reserved']);

    down = false;
    await eventually(async () => expect((await orderRow(bed.database.db, story.orderId))?.status).toBe('CONFIRMED'));
    expect((await processedEvents(bed.database.db, [story.orderId])).map((p) => p.eventType).sort()).toEqual(story.events.map((e) => e.type).sort());
    expect((await bed.deadLetters()).filter((d) => d.key === story.orderId)).toEqual([]);
    // Every try is numbered, the waited-out ones included.
    expect(tries).toEqual(tries.map((_, i) => i + 1));
    // Projectors of other groups write the same read model: the next test's must be the only one.
    await projector.stop();
  });

  it('a consumer stopped while it waits lets go of the message without resolving it: the next member of its group applies it', async () => {
    const story = completedOrderStory();
    const confirmed = story.events[4]!;
    const group = bed.groupId('outage-stop');
    const tries: number[] = [];
    const first = await bed.startProjector({ groupId: group, wrapHandler: outageFor(confirmed.id, () => true, tries) });
    await publishAll(bed.publisher, story.events);
    await eventually(async () => expect(tries.length).toBeGreaterThanOrEqual(2));
    await first.stop();

    // The group's position on the order's partition is not past order.confirmed, which follows user.created there.
    const created = (await processedEvents(bed.database.db, [story.orderId])).find((p) => p.eventType === 'user.created')!;
    const [offsets] = await bed.admin.fetchOffsets({ groupId: group, topics: [bed.config.KAFKA_TOPIC] });
    const committed = Number(offsets!.partitions.find((p) => p.partition === created.kafkaPartition)!.offset);
    expect(committed).toBeLessThanOrEqual(Number(created.kafkaOffset) + 1);
    expect((await orderRow(bed.database.db, story.orderId))?.status).toBe('PAID');

    await bed.startProjector({ groupId: group });
    await eventually(async () => expect((await orderRow(bed.database.db, story.orderId))?.status).toBe('CONFIRMED'));
    expect((await bed.deadLetters()).filter((d) => d.key === story.orderId)).toEqual([]);
  });
});
