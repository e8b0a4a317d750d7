import type { EventHandler } from '../../src/kafka/consumer/runtime';
import type { DeadLetter } from '../../src/kafka/consumer/dead-letters';
import { completedOrderStory, eventually, orderRow, processedEvents, publishAll, runCli, startConsumerTestBed, type ConsumerTestBed } from './support';

describe('dead letters: a message that cannot be processed goes to the DLQ and the partition flows on', () => {
  let bed: ConsumerTestBed;
  let projectorGroup: string;
  let notifierGroup: string;
  beforeAll(async () => {
    bed = await startConsumerTestBed('dead-letters');
    projectorGroup = (await bed.startProjector()).groupId;
    notifierGroup = (await bed.startNotifier()).groupId;
  });
  afterAll(async () => {
    await bed?.close();
  });

  const lettersFor = async (predicate: (d: DeadLetter) => boolean, count: number) =>
    eventually(async () => {
      const letters = (await bed.deadLetters()).filter(predicate);
      expect(letters).toHaveLength(count);
      return letters;
    });

  it('dead-letters a record that is not a CloudEvent, with where it came from and why, and processes the next one', async () => {
    const story = completedOrderStory();
    // Keyed like the order, so it sits on the same partition, right in front of the order's events.
    await bed.produceRaw([{ key: story.orderId, value: '{"this is": not json', headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' } }]);
    await publishAll(bed.publisher, story.events);

    await eventually(async () => expect((await orderRow(bed.database.db, story.orderId))?.status).toBe('CONFIRMED'));
    const letters = await lettersFor((d) => d.key === story.orderId, 2);
    expect(letters.map((d) => d.consumerGroup).sort()).toEqual([projectorGroup, notifierGroup].sort());
    for (const d of letters) {
      expect(d).toMatchObject({
        originalTopic: bed.config.KAFKA_TOPIC,
        originalPartition: expect.any(Number),
        originalOffset: expect.stringMatching(/^\d+$/),
        errorKind: 'unparseable',
        attempts: 1,
        error: expect.stringContaining('not a CloudEvent'),
        valuePreview: '{"this is": not json',
      });
      // A dead letter keeps its order key's partition.
      expect(d.partition).toBe(d.originalPartition);
    }
  });

  it('dead-letters an event that breaks its schema (only for a consumer that acts on its type) and goes on', async () => {
    const story = completedOrderStory();
    const reserved = story.events[1]!;
    const broken = { ...reserved, data: { ...reserved.data, lines: 'two mugs' } } as unknown as typeof reserved;
    await publishAll(bed.publisher, [story.events[0]!, broken, ...story.events.slice(2)]);

    await eventually(async () => expect((await orderRow(bed.database.db, story.orderId))?.status).toBe('CONFIRMED'));
    const [letter] = await lettersFor((d) => d.eventId === reserved.id, 1);
    expect(letter).toMatchObject({ consumerGroup: projectorGroup, errorKind: 'schema', eventType: 'stock.reserved', attempts: 1, error: expect.stringContaining('lines') });
    // The projector never saw the reservation, yet the order is whole: order.confirmed carries the lines.
    expect((await orderRow(bed.database.db, story.orderId))?.lines).toHaveLength(2);
  });

  it('dead-letters an event whose handler keeps failing after N attempts, then the rest of the partition is processed', async () => {
    const story = completedOrderStory();
    const reserved = story.events[1]!;
    // Passes the contract, but its amount does not fit the read model's integer column: the
    // projector fails on it every time, like a bug would.
    const huge = { ...reserved, data: { ...reserved.data, amount: 3_000_000_000 } } as typeof reserved;
    await publishAll(bed.publisher, [story.events[0]!, huge]);
    const [letter] = await lettersFor((d) => d.eventId === reserved.id, 1);
    expect(letter).toMatchObject({ consumerGroup: projectorGroup, errorKind: 'handler', attempts: 3, error: expect.stringMatching(/out of range/) });

    await publishAll(bed.publisher, story.events.slice(2));
    await eventually(async () => expect((await orderRow(bed.database.db, story.orderId))?.status).toBe('CONFIRMED'));
    expect((await processedEvents(bed.database.db, [story.orderId])).map((p) => p.eventType).sort()).toEqual(
      ['checkout.started', 'payment.captured', 'user.created', 'order.confirmed'].sort(),
    );
  });

  describe('the operator CLI', () => {
    // Topics of its own with one projector, whose handler fails for one event while `broken` is set:
    // no other consumer writes that event, so the replay is what brings it in.
    let own: ConsumerTestBed;
    let broken = true;
    const story = completedOrderStory({ refunds: [250, 100] });
    const refund = story.events[5]!;
    const later = story.events[6]!;
    beforeAll(async () => {
      own = await startConsumerTestBed('dlq-cli');
      const failing = (handler: EventHandler): EventHandler => async (event, ctx) => {
        if (broken && event.id === refund.id) throw new Error('read model migration pending');
        return handler(event, ctx);
      };
      await own.startProjector({ wrapHandler: failing });
    });
    afterAll(async () => {
      await own?.close();
    });

    it('lists dead letters (`dlq list`, `--json`) and replays one once its cause is fixed; a second replay changes nothing', async () => {
      await publishAll(own.publisher, story.events.slice(0, 6));
      const [letter] = await eventually(async () => {
        const letters = (await own.deadLetters()).filter((d) => d.eventId === refund.id);
        expect(letters).toHaveLength(1);
        return letters;
      });
      await eventually(async () => expect((await orderRow(own.database.db, story.orderId))?.status).toBe('CONFIRMED'));
      expect((await orderRow(own.database.db, story.orderId))?.refundedMinor).toBe(0);

      const list = await runCli(['dlq', 'list', '--json'], own.env);
      expect(list.code).toBe(0);
      const listed = JSON.parse(list.stdout) as { ok: boolean; topic: string; deadLetters: DeadLetter[] };
      expect(listed.topic).toBe(own.config.KAFKA_DLQ_TOPIC);
      expect(listed.deadLetters).toEqual([
        expect.objectContaining({
          partition: letter!.partition,
          offset: letter!.offset,
          errorKind: 'handler',
          attempts: 3,
          error: 'read model migration pending',
          eventId: refund.id,
          eventType: 'payment.refunded',
          originalTopic: own.config.KAFKA_TOPIC,
        }),
      ]);
      const human = await runCli(['dlq', 'list'], own.env);
      expect(human.code).toBe(0);
      expect(human.stdout).toContain(`${letter!.partition}:${letter!.offset}`);
      expect(human.stdout).toContain('read model migration pending');

      broken = false;
      const replay = await runCli(['dlq', 'replay', `${letter!.partition}:${letter!.offset}`, '--json'], own.env);
      expect(replay.code).toBe(0);
      expect(JSON.parse(replay.stdout)).toMatchObject({ ok: true, replayed: { eventId: refund.id, to: { topic: own.config.KAFKA_TOPIC } } });
      await eventually(async () => expect((await orderRow(own.database.db, story.orderId))?.refundedMinor).toBe(250));

      const again = await runCli(['dlq', 'replay', `${letter!.partition}:${letter!.offset}`], own.env);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain(`Replayed dead letter ${letter!.partition}:${letter!.offset}`);
      // The next event of the order sits behind the second replay on the same partition.
      await publishAll(own.publisher, [later]);
      await eventually(async () => expect((await orderRow(own.database.db, story.orderId))?.refundedMinor).toBe(350));
      const row = await orderRow(own.database.db, story.orderId);
      expect(row!.refunds.map((r) => r.amount)).toEqual([250, 100]);
      expect(await processedEvents(own.database.db, [story.orderId])).toHaveLength(story.events.length);
    });

    it('answers a dead letter that does not exist with exit 1 and one line, and a malformed position with exit 2', async () => {
      const missing = await runCli(['dlq', 'replay', '0:999999'], own.env);
      expect(missing.code).toBe(1);
      expect(missing.stderr.trim()).toBe(`error: no dead letter at 0:999999 in ${own.config.KAFKA_DLQ_TOPIC} (see \`dlq list\`)`);
      const usage = await runCli(['dlq', 'replay', 'first'], own.env);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain('expected <partition>:<offset>');
    });
  });
});
