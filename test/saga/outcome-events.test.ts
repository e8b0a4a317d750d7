import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import { paymentEventSignal, searchAttributes } from '../../src/workflows/checkout/contract';
import { StepFaults } from '../support/faults';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { recordHistory } from '../support/histories';

/**
 * Once the order is confirmed nothing may undo it: an outcome event that Kafka will not take is
 * retried for as long as it takes and shown to ops, never turned into a refund.
 */
describe('an outcome event Kafka will not take after the order is confirmed', () => {
  const faults = new StepFaults();
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness({ interceptors: faults.interceptors() });
  });
  afterAll(async () => {
    faults.clear();
    await h?.assertNoChargeWithoutOrderOrRefund();
    await h?.close();
  });

  it('never refunds the confirmed order: the event waits, ops see it pending, and it goes out once Kafka takes it', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const confirming = faults.hold('confirmOrder');
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });
    await confirming.reached;
    // Every publish from here fails for good, as it would after a day-long outage: the retry window is spent.
    faults.failPermanently('publishEvent');
    confirming.release();

    const stuck = await h.waitForStatus(input.checkoutId, (s) => (s.outcomeEventPending?.failedRounds ?? 0) >= 2);
    expect(stuck).toMatchObject({ status: 'COMPLETED', outcomeEventPending: { type: 'order.confirmed' } });
    const [order] = await h.db.select().from(schema.orders).where(eq(schema.orders.checkoutId, input.checkoutId));
    expect(order?.status).toBe('CONFIRMED');
    expect(await h.emulator.moneyFor(input.checkoutId)).toMatchObject({ charges: 1, refunded: 0 });
    expect((await handle.describe()).typedSearchAttributes.get(searchAttributes.step)).toBe('outcomeEventPending');

    faults.clear('publishEvent');

    expect(await h.result(input.checkoutId)).toMatchObject({ status: 'COMPLETED' });
    await recordHistory(handle, 'order-confirmed-event-delayed');
    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'order.confirmed'));
    expect(events.filter((e) => e.type === 'order.confirmed')).toHaveLength(1);
    expect(events.map((e) => e.type)).not.toContain('payment.refunded');
    expect((await handle.describe()).typedSearchAttributes.get(searchAttributes.step)).toBe('confirmOrder');
    expect(await h.stock(sku)).toBe(2);
  });

  it('re-sends order.confirmed identical, time included, when Temporal runs the last workflow task again', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const confirming = faults.hold('confirmOrder');
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });
    await confirming.reached;
    const publishing = faults.hold('publishEvent');
    confirming.release();
    await publishing.reached;
    // A late webhook lands while the workflow completes: Temporal refuses the completion
    // (UnhandledCommand) and runs the task again, publish included.
    await handle.signal(paymentEventSignal, { stripeEventId: 'evt_late', type: 'payment_intent.succeeded', paymentIntentId: 'pi_late', intentStatus: 'succeeded' });
    publishing.release();

    expect(await h.result(input.checkoutId)).toMatchObject({ status: 'COMPLETED' });
    const events = await h.events(input.orderId, (es) => es.filter((e) => e.type === 'order.confirmed').length >= 2);
    const copies = events.filter((e) => e.type === 'order.confirmed').map((e) => JSON.stringify({ id: e.id, time: e.time, data: e.data }));
    expect(new Set(copies).size).toBe(1);
  });
});
