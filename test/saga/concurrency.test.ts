import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import { startSagaHarness, type SagaHarness } from '../support/harness';

describe('many buyers for little stock', () => {
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness();
  });
  afterAll(async () => {
    await h?.assertNoChargeWithoutOrderOrRefund();
    await h?.close();
  });

  it('50 concurrent checkouts for 10 units confirm exactly 10, the rest fail OUT_OF_STOCK, stock ends at 0', async () => {
    const sku = await h.seedProduct({ stock: 10 });
    let lowest = 10;
    const sampling = setInterval(() => {
      void h.stock(sku).then((s) => (lowest = Math.min(lowest, s)), () => {});
    }, 50);

    const started = await Promise.all(Array.from({ length: 50 }, () => h.startCheckout({ items: [{ sku, quantity: 1 }] })));
    const results = await Promise.all(started.map(({ input }) => h.result(input.checkoutId)));
    clearInterval(sampling);

    const completed = results.filter((r) => r.status === 'COMPLETED');
    expect(completed).toHaveLength(10);
    expect(results.filter((r) => r.status === 'FAILED').every((r) => r.failure?.code === 'OUT_OF_STOCK')).toBe(true);
    expect(await h.stock(sku)).toBe(0);
    expect(lowest).toBeGreaterThanOrEqual(0);
    const confirmed = await h.db.select().from(schema.orderLines).innerJoin(schema.orders, eq(schema.orders.id, schema.orderLines.orderId)).where(eq(schema.orderLines.sku, sku));
    expect(confirmed.filter((r) => r.orders.status === 'CONFIRMED').reduce((n, r) => n + r.order_lines.quantity, 0)).toBe(10);
  });
});
