import type { CheckoutEvent } from '../../src/kafka/consumer/decode';
import type { OutcomeEvent } from '../../src/events/contract';
import { project, type OrderHistoryWrite } from '../../src/read-model/projection';
import { completedOrderStory } from './support';

/** The projector's rule without Kafka and SQL: events folded in a given delivery order, ids deduped. */
function fold(events: OutcomeEvent[], start: number): OrderHistoryWrite {
  const seen = new Set<string>();
  let row: OrderHistoryWrite | undefined;
  for (const e of events) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const event: CheckoutEvent = { id: e.id, type: e.type, source: 'urn:checkout-saga', subject: e.data.orderId, time: new Date(start + e.data.sequence * 1000).toISOString(), data: e.data };
    row = project(row, event).row;
  }
  return row!;
}

/** A deterministic shuffle (mulberry32), so a failing order can be reproduced from its seed. */
function shuffled<T>(items: T[], seed: number): T[] {
  let a = seed;
  const random = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('the order-history projection rule', () => {
  it('ends in the same row for any delivery order of the same events, with duplicates', () => {
    const story = completedOrderStory({ refunds: [1000, 399, 2000] });
    const start = Date.parse('2026-01-01T10:00:00Z');
    const inOrder = fold(story.events, start);
    expect(inOrder).toMatchObject({ status: 'REFUNDED', refundedMinor: 3399, lastSequence: 8, lines: [expect.objectContaining({ unitPrice: 1250 }), expect.objectContaining({ unitPrice: 899 })] });

    for (let seed = 1; seed <= 300; seed++) {
      const delivered = shuffled([...story.events, ...story.events.slice(seed % story.events.length, (seed % story.events.length) + 2)], seed);
      expect({ seed, row: fold(delivered, start) }).toEqual({ seed, row: inOrder });
    }
  });

  it('takes the newest status-bearing event as the status, whatever arrived last', () => {
    const story = completedOrderStory();
    const start = Date.parse('2026-01-01T10:00:00Z');
    const [started, , captured, created, confirmed] = story.events as [OutcomeEvent, OutcomeEvent, OutcomeEvent, OutcomeEvent, OutcomeEvent];
    // user.created (4, no status) first, then payment.captured (3): PAID is the newest status known.
    expect(fold([created, captured], start).status).toBe('PAID');
    expect(fold([created, captured, started], start).status).toBe('PAID');
    expect(fold([confirmed, created, captured, started], start).status).toBe('CONFIRMED');
  });
});
