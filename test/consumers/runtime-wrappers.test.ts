import { CloudEvent, Kafka as KafkaBinding } from 'cloudevents';
import { KafkaJSConnectionError, type Message } from 'kafkajs';
import type { OutcomeEvent } from '../../src/events/contract';
import { readDeadLetter } from '../../src/kafka/consumer/dead-letters';
import { deadLetterGivenUp } from '../../src/kafka/consumer/dead-letter-given-up';
import type { CheckoutEvent } from '../../src/kafka/consumer/decode';
import { decodeRecords } from '../../src/kafka/consumer/decode-records';
import { DeliveryInterrupted, type DeliveredEventHandler, type Delivery } from '../../src/kafka/consumer/delivery';
import { isTransientInfrastructureError } from '../../src/kafka/consumer/failures';
import { HandlerKeptFailing, retryThenGiveUp } from '../../src/kafka/consumer/retry-then-give-up';
import { waitOutOutages } from '../../src/kafka/consumer/wait-out-outages';
import { logger } from '../../src/logger';
import { completedOrderStory } from './support';

/**
 * The consumer runtime's rules one wrapper at a time, as the pure functions they are: a wrapper
 * takes the handler below it and returns one of the same kind, and its only contact with Kafka is
 * the Delivery it is handed (the record, and a wait that keeps the group membership alive). The
 * same rules against the real broker and database: outages.test.ts, dead-letters.test.ts.
 */

/** A record as the publisher writes it: a structured-mode CloudEvent keyed by the order. */
function recordOf(event: OutcomeEvent, offset = '7'): Delivery['message'] {
  const ce = new CloudEvent({ id: event.id, source: 'urn:checkout-saga', type: event.type, subject: event.data.orderId, time: '2026-12-01T10:00:00.000Z', datacontenttype: 'application/json', data: event.data });
  const m = KafkaBinding.structured(ce);
  return { key: Buffer.from(event.data.orderId), value: Buffer.from(String(m.value)), headers: { 'content-type': Buffer.from(String(m.headers['content-type'])) }, offset, timestamp: '1796054400000', attributes: 0 };
}

/** A delivery whose waits pass at once (their lengths kept), until the consumer stops after `stopAfterWaits` of them. */
function deliveryOf(message: Delivery['message'], options: { stopAfterWaits?: number } = {}): Delivery & { waits: number[] } {
  const waits: number[] = [];
  return {
    topic: 'checkout.events',
    partition: 2,
    message,
    logger: logger.child({ test: 'runtime-wrappers' }),
    tries: 0,
    waits,
    async wait(ms) {
      if (waits.length === options.stopAfterWaits) throw new DeliveryInterrupted('the consumer is stopping');
      waits.push(ms);
    },
  };
}

/** What the runtime puts at the bottom of the chain: each call counted as a try. */
const counted =
  (handler: (event: CheckoutEvent) => Promise<string>): DeliveredEventHandler =>
  async (event, delivery) => {
    delivery.tries += 1;
    return handler(event);
  };

const outage = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' });
const bug = () => new Error('value "3000000000" is out of range for type integer');

/** The dead-letter wrapper over a DLQ that keeps what it is sent (or refuses it, with `send`). */
function deadLettering(consumerGroup: string, sent: Message[], send: (record: Message) => Promise<void> = async (r) => void sent.push(r)) {
  return deadLetterGivenUp({ topic: 'checkout.events', consumerGroup, send, initialMs: 50, maxMs: 500 });
}

/** A dead letter as `dlq list` shows it, had it been written to partition 2. */
const asListed = (record: Message) => readDeadLetter({ ...record, offset: '0', timestamp: '0', attributes: 0 } as Delivery['message'], 2);

const retry = retryThenGiveUp({ maxAttempts: 3, initialMs: 50, maxMs: 200 });
const waitOut = waitOutOutages({ isTransient: isTransientInfrastructureError, initialMs: 50, maxMs: 500 });

describe('the consumer runtime, wrapper by wrapper', () => {
  const story = completedOrderStory();
  const confirmed = story.events[4]!;

  it('waits out an outage on the same message for as long as it lasts, and none of those tries counts towards the limit', async () => {
    let calls = 0;
    const handle = retry(
      waitOut(
        counted(async () => {
          calls += 1;
          if (calls <= 12) throw outage();
          return 'applied';
        }),
      ),
    );
    const delivery = deliveryOf(recordOf(confirmed));
    await expect(handle(await decoded(confirmed), delivery)).resolves.toBe('applied');
    expect(delivery.tries).toBe(13);
    // Every wait is an outage's: capped by the outage cap, not by the counted failures' one.
    expect(delivery.waits).toHaveLength(12);
    expect(Math.max(...delivery.waits)).toBeGreaterThan(200);
    expect(Math.max(...delivery.waits)).toBeLessThanOrEqual(500);
  });

  it('gives a message up after the limit of its own failures; an outage between them neither counts nor resets the count', async () => {
    const script = [bug, outage, outage, outage, bug, outage, bug];
    let calls = 0;
    const handle = retry(
      waitOut(
        counted(async () => {
          throw script[calls++]!();
        }),
      ),
    );
    const delivery = deliveryOf(recordOf(confirmed));
    const given = await handle(await decoded(confirmed), delivery).catch((err: unknown) => err);
    expect(given).toBeInstanceOf(HandlerKeptFailing);
    expect(given).toMatchObject({ failures: 3, eventId: confirmed.id, eventType: 'order.confirmed', message: expect.stringContaining('out of range') });
    expect(delivery.tries).toBe(script.length);
  });

  it('lets go of a message when the consumer stops during a wait, even after its last allowed failure: neither given up nor dead-lettered', async () => {
    const script = [bug, bug, outage];
    let calls = 0;
    const sent: Message[] = [];
    const handle = deadLettering('order-history-projector', sent)(
      decodeRecords(['order.confirmed'])(
        retry(
          waitOut(
            counted(async () => {
              throw script[calls++]!();
            }),
          ),
        ),
      ),
    );
    // Two waits after the two failures, then the consumer stops while the outage is waited out.
    await expect(handle(deliveryOf(recordOf(confirmed), { stopAfterWaits: 2 }))).rejects.toBeInstanceOf(DeliveryInterrupted);
    expect(calls).toBe(3);
    expect(sent).toEqual([]);
  });

  describe('decoding', () => {
    const reserved = story.events[1]!;
    const broken = { ...reserved, data: { ...reserved.data, lines: 'two mugs' } } as unknown as OutcomeEvent;

    it('is done with a type the consumer does not act on without checking its data, so it never becomes that consumer’s dead letter', async () => {
      const sent: Message[] = [];
      const seen: string[] = [];
      const handle = deadLettering('notification-sender', sent)(
        decodeRecords(['order.confirmed'])(async (event) => {
          seen.push(event.id);
          return 'sent';
        }),
      );
      await handle(deliveryOf(recordOf(broken)));
      await handle(deliveryOf(recordOf(confirmed)));
      expect(seen).toEqual([confirmed.id]);
      expect(sent).toEqual([]);
    });

    it('hands a consumer that acts on the type only events that pass the contract; one that breaks it is dead-lettered without a try', async () => {
      const sent: Message[] = [];
      let tries = 0;
      const handle = deadLettering('order-history-projector', sent)(
        decodeRecords(['stock.reserved'])(async () => `tried ${++tries}`),
      );
      await handle(deliveryOf(recordOf(broken, '12')));
      expect(tries).toBe(0);
      expect(sent.map(asListed)).toEqual([
        expect.objectContaining({ originalTopic: 'checkout.events', originalPartition: 2, originalOffset: '12', errorKind: 'schema', attempts: 1, eventId: reserved.id, eventType: 'stock.reserved', error: expect.stringContaining('lines') }),
      ]);
    });
  });

  describe('dead-lettering', () => {
    it('copies a record that is not a CloudEvent to the DLQ unchanged, with where it came from and why', async () => {
      const sent: Message[] = [];
      const handle = deadLettering('order-history-projector', sent)(
        decodeRecords(['order.confirmed'])(async () => 'never'),
      );
      const poison = { key: Buffer.from('k'), value: Buffer.from('{"this is": not json'), headers: { trace: Buffer.from('abc') }, offset: '3', timestamp: '1796054400000', attributes: 0 };
      await handle(deliveryOf(poison));
      expect(sent).toEqual([expect.objectContaining({ key: poison.key, value: poison.value, headers: expect.objectContaining({ trace: Buffer.from('abc') }) })]);
      expect(sent.map(asListed)).toEqual([expect.objectContaining({ originalTopic: 'checkout.events', originalPartition: 2, originalOffset: '3', consumerGroup: 'order-history-projector', errorKind: 'unparseable', attempts: 1, error: expect.stringContaining('not a CloudEvent') })]);
    });

    it('holds a record whose dead letter cannot be written yet, as for any outage, and is done with it only once the DLQ took it', async () => {
      let refusals = 3;
      const sent: Message[] = [];
      const send = async (record: Message) => {
        if (refusals-- > 0) throw new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
        sent.push(record);
      };
      const keepsFailing = deadLettering('order-history-projector', sent, send)(
        decodeRecords(['order.confirmed'])(retry(waitOut(counted(async () => Promise.reject(bug()))))),
      );
      const delivery = deliveryOf(recordOf(confirmed));
      await keepsFailing(delivery);
      expect(sent.map(asListed)).toEqual([expect.objectContaining({ errorKind: 'handler', attempts: 3, eventId: confirmed.id, error: expect.stringContaining('out of range') })]);
      // Two waits between the three failures of the handler, then three between the refused writes.
      expect(delivery.waits).toHaveLength(5);
    });

    it('lets go of the record, unresolved, when the consumer stops while the dead letter cannot be written', async () => {
      const refused = async () => Promise.reject(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'));
      const handle = deadLettering('order-history-projector', [], refused)(decodeRecords(['order.confirmed'])(async () => 'never'));
      await expect(handle(deliveryOf({ ...recordOf(confirmed), value: Buffer.from('not an event') }, { stopAfterWaits: 0 }))).rejects.toBeInstanceOf(DeliveryInterrupted);
    });
  });
});

/** The event as the decoding wrapper hands it down. */
async function decoded(event: OutcomeEvent): Promise<CheckoutEvent> {
  let out: CheckoutEvent | undefined;
  await decodeRecords([event.type])(async (e) => {
    out = e;
    return 'decoded';
  })(deliveryOf(recordOf(event)));
  return out!;
}
