import { project, type OrderHistoryWrite } from '../../src/read-model/projection';
import type { CheckoutEvent } from '../../src/kafka/consumer/decode';
import type { OutcomeEvent } from '../../src/events/contract';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { completedOrderStory, eventually, orderRow, processedEvents, publishAll, startConsumerTestBed, stillAfter, type ConsumerTestBed } from './support';

/** The row the projector must end with: the events folded in saga order, as a fresh consumer would. */
function expectedRow(events: OutcomeEvent[], start: number): OrderHistoryWrite {
  let row: OrderHistoryWrite | undefined;
  for (const e of events) {
    const event: CheckoutEvent = { id: e.id, type: e.type, source: 'urn:checkout-saga', subject: e.data.orderId, time: new Date(start + e.data.sequence * 1000).toISOString(), data: e.data };
    row = project(row, event).row;
  }
  return row!;
}

const withoutProjectedAt = <T extends { projectedAt?: unknown }>(row: T | undefined) => {
  if (!row) return row;
  const { projectedAt: _unused, ...rest } = row;
  return rest;
};

describe('order-history projector (group order-history-projector) against the real broker and database', () => {
  let bed: ConsumerTestBed;
  beforeAll(async () => {
    bed = await startConsumerTestBed('order-history');
    await bed.startProjector();
  });
  afterAll(async () => {
    await bed?.close();
  });

  describe('with real checkouts', () => {
    let h: SagaHarness;
    beforeAll(async () => {
      h = await startSagaHarness({ env: bed.env });
    });
    afterAll(async () => {
      await h?.close();
    });

    it('turns a completed checkout into one row with its priced lines, total, account and status history', async () => {
      const sku = await h.seedProduct({ priceMinor: 1999, currency: 'EUR', name: 'Espresso cup' });
      const { input } = await h.startCheckout({ items: [{ sku, quantity: 3 }], customer: { email: `history-${Date.now()}@example.com`, name: 'Grace Hopper' } });
      expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
      const published = await h.events(input.orderId, (es) => es.some((e) => e.type === 'order.confirmed'));

      const row = await eventually(async () => {
        const r = await orderRow(bed.database.db, input.orderId);
        expect(r?.status).toBe('CONFIRMED');
        return r!;
      });
      expect(row).toMatchObject({
        orderId: input.orderId,
        checkoutId: input.checkoutId,
        customerEmail: input.customer.email,
        customerName: 'Grace Hopper',
        userId: expect.any(String),
        amountMinor: 5997,
        currency: 'EUR',
        lines: [{ sku, name: 'Espresso cup', quantity: 3, unitPrice: 1999, lineTotal: 5997 }],
        refundedMinor: 0,
        refunds: [],
        failure: null,
        lastSequence: Math.max(...published.map((e) => e.data.sequence)),
      });
      expect(row.statusHistory.map((s) => s.status)).toEqual(['PENDING', 'PAID', 'CONFIRMED']);
      expect((await processedEvents(bed.database.db, [input.orderId])).map((p) => p.eventId).sort()).toEqual(published.map((e) => e.id).sort());
    });

    it('records a declined checkout as FAILED with the reason, and no money', async () => {
      const sku = await h.seedProduct();
      const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_chargeDeclined' });
      expect((await h.result(input.checkoutId)).status).toBe('FAILED');

      const row = await eventually(async () => {
        const r = await orderRow(bed.database.db, input.orderId);
        expect(r?.status).toBe('FAILED');
        return r!;
      });
      expect(row.failure).toMatchObject({ code: 'PAYMENT_DECLINED' });
      expect(row.statusHistory.map((s) => s.status)).toEqual(['PENDING', 'FAILED']);
      expect(row.refundedMinor).toBe(0);
    });
  });

  it('writes one row and one processed event when the same event is delivered twice', async () => {
    const story = completedOrderStory({ refunds: [500] });
    const start = Date.now();
    const [started, reserved, captured, created, confirmed, refunded] = story.events as [OutcomeEvent, OutcomeEvent, OutcomeEvent, OutcomeEvent, OutcomeEvent, OutcomeEvent];
    // order.confirmed sent twice, as an activity retried after a publish that did reach Kafka would.
    await publishAll(bed.publisher, [started, reserved, captured, created, confirmed, confirmed, refunded], start);

    await eventually(async () => expect(await processedEvents(bed.database.db, [story.orderId])).toHaveLength(6));
    const row = await orderRow(bed.database.db, story.orderId);
    expect(withoutProjectedAt(row)).toEqual(expectedRow(story.events, start));
    expect(row!.statusHistory.map((s) => s.status)).toEqual(['PENDING', 'PAID', 'CONFIRMED', 'PARTIALLY_REFUNDED']);
    expect(row!.refunds).toHaveLength(1);
  });

  it('ends in the newest state when the events of one order arrive in reverse order', async () => {
    const story = completedOrderStory({ refunds: [1000, 2399] });
    const start = Date.now();
    await publishAll(bed.publisher, [...story.events].reverse(), start);

    const processed = await eventually(async () => {
      const p = await processedEvents(bed.database.db, [story.orderId]);
      expect(p).toHaveLength(story.events.length);
      return p;
    });
    const row = await orderRow(bed.database.db, story.orderId);
    // The same row as in-order delivery: newest status and refunded total, full histories, all facts.
    expect(withoutProjectedAt(row)).toEqual(expectedRow(story.events, start));
    expect(row).toMatchObject({ status: 'REFUNDED', refundedMinor: 3399, amountMinor: 3399, lastSequence: 7 });
    expect(row!.refunds.map((r) => r.amount)).toEqual([1000, 2399]);
    expect(row!.statusHistory.map((s) => s.status)).toEqual(['PENDING', 'PAID', 'CONFIRMED', 'PARTIALLY_REFUNDED', 'REFUNDED']);
    // Only the first to arrive (the newest) moved the order forward; every older one came late.
    const bySequence = Object.fromEntries(processed.map((p) => [p.sequence, p.outcome]));
    expect(bySequence).toEqual({ 7: 'applied', 6: 'late', 5: 'late', 4: 'late', 3: 'late', 2: 'late', 1: 'late' });
  });

  it('never lets an older event override newer state', async () => {
    const story = completedOrderStory({ refunds: [3399] });
    const start = Date.now();
    const refund = story.events[5]!;
    const confirmed = story.events[4]!;
    await publishAll(bed.publisher, [refund], start);
    await eventually(async () => expect((await orderRow(bed.database.db, story.orderId))?.status).toBe('REFUNDED'));

    // A stale order.confirmed (sequence 5 < 6): fills the lines the refund did not carry, nothing else.
    await publishAll(bed.publisher, [confirmed], start);
    const row = await eventually(async () => {
      const r = await orderRow(bed.database.db, story.orderId);
      expect(r?.lines).toHaveLength(2);
      return r!;
    });
    expect(row).toMatchObject({ status: 'REFUNDED', refundedMinor: 3399, lastSequence: 6, lastEventId: refund.id });
    expect(row.statusHistory.map((s) => s.status)).toEqual(['CONFIRMED', 'REFUNDED']);
  });

  it('shows a disputed order DISPUTED with the amount, reason and evidence deadline; lost, the money counts as returned', async () => {
    const story = completedOrderStory({ dispute: { amount: 3399, outcome: 'lost' } });
    const closed = story.events.pop()!;
    const start = Date.now();
    await publishAll(bed.publisher, story.events, start);
    const disputed = await eventually(async () => {
      const r = await orderRow(bed.database.db, story.orderId);
      expect(r?.status).toBe('DISPUTED');
      return r!;
    });
    expect(disputed.disputes).toEqual([
      { disputeId: `dp_${story.orderId.slice(0, 8)}`, amount: 3399, currency: 'EUR', reason: 'fraudulent', evidenceDueBy: '2026-12-21T23:59:59Z', outcome: null, openedAt: expect.any(String), closedAt: null },
    ]);

    await publishAll(bed.publisher, [closed], start);
    const decided = await eventually(async () => {
      const r = await orderRow(bed.database.db, story.orderId);
      expect(r?.status).toBe('REFUNDED');
      return r!;
    });
    expect(decided.disputes).toEqual([expect.objectContaining({ amount: 3399, reason: 'fraudulent', outcome: 'lost', evidenceDueBy: null, closedAt: expect.any(String) })]);
    expect(decided.statusHistory.map((s) => s.status)).toEqual(['PENDING', 'PAID', 'CONFIRMED', 'DISPUTED', 'REFUNDED']);
  });

  it('a dispute decided before its opening arrives ends the same, and a won dispute leaves the order CONFIRMED', async () => {
    const story = completedOrderStory({ dispute: { amount: 1000, outcome: 'won' } });
    const start = Date.now();
    const opened = story.events[story.events.length - 2]!;
    const closed = story.events[story.events.length - 1]!;
    await publishAll(bed.publisher, [...story.events.slice(0, -2), closed, opened], start);
    await eventually(async () => expect(await processedEvents(bed.database.db, [story.orderId])).toHaveLength(story.events.length));
    const row = await orderRow(bed.database.db, story.orderId);
    expect(withoutProjectedAt(row)).toEqual(expectedRow(story.events, start));
    expect(row).toMatchObject({ status: 'CONFIRMED', refundedMinor: 0 });
    expect(row!.disputes).toEqual([expect.objectContaining({ amount: 1000, reason: 'fraudulent', outcome: 'won', evidenceDueBy: null })]);
  });

  it('applies an event for an order it has never seen, creating the row from what the event carries', async () => {
    const story = completedOrderStory({ refunds: [700] });
    const refund = story.events[5]!;
    await publishAll(bed.publisher, [refund]);

    const row = await eventually(async () => {
      const r = await orderRow(bed.database.db, story.orderId);
      expect(r).toBeDefined();
      return r!;
    });
    expect(row).toMatchObject({
      orderId: story.orderId,
      checkoutId: story.checkoutId,
      customerEmail: story.email,
      status: 'PARTIALLY_REFUNDED',
      amountMinor: 3399,
      currency: 'EUR',
      refundedMinor: 700,
      lastSequence: 6,
    });
    expect(row.refunds).toEqual([expect.objectContaining({ amount: 700, reason: 'refund 1' })]);
    await stillAfter(300, async () => expect(await processedEvents(bed.database.db, [story.orderId])).toHaveLength(1));
  });
});
