import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import { refundWorkflowId, type RefundResult } from '../../src/workflows/refund/contract';
import { StepFaults } from '../support/faults';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { recordHistory } from '../support/histories';
import { completedCheckout, emulatorState, json, reasonLine, runCli } from './support';

/** Refunds from the CLI against the real stack: RefundWorkflow, Stripe emulator, PostgreSQL, Kafka. */
describe('checkout-saga refund', () => {
  const faults = new StepFaults();
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness({ interceptors: faults.interceptors() });
  });
  afterAll(async () => {
    await h?.close();
  });

  const order = async (orderId: string) => (await h.db.select().from(schema.orders).where(eq(schema.orders.id, orderId)))[0]!;
  const stripeRefunds = async (checkoutId: string) => (await emulatorState(h, checkoutId)).flatMap((i) => i.refunds);

  it('the same request twice refunds once: one Stripe refund, the second run says so', async () => {
    const { input } = await completedCheckout(h, { priceMinor: 1250, quantity: 2 });

    const first = await runCli(h, ['refund', input.orderId, '--amount', '500', '--reason', 'damaged box']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Refunded\s+EUR 5\.00 on order/);
    expect(first.stdout).toMatch(/Order\s+PARTIALLY_REFUNDED, EUR 5\.00 of EUR 25\.00 refunded, EUR 20\.00 left/);

    // Same command again, this time by checkout id and with the reason typed differently.
    const second = await runCli(h, ['refund', input.checkoutId, '--amount', '500', '--reason', 'Damaged  Box', '--json']);
    expect(second.code).toBe(0);
    const again = json<{ ok: boolean; repeated: boolean; refund: RefundResult }>(second);
    expect(again).toMatchObject({ ok: true, repeated: true, refund: { amount: 500, totalRefunded: 500, orderStatus: 'PARTIALLY_REFUNDED' } });

    const refunds = await stripeRefunds(input.checkoutId);
    expect(refunds).toHaveLength(1);
    expect(refunds[0]).toMatchObject({ amount: 500, metadata: { refundKey: again.refund.refundKey, orderId: input.orderId } });
    expect(await order(input.orderId)).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedMinor: 500 });
    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'payment.refunded'));
    expect(events.filter((e) => e.type === 'payment.refunded').map((e) => e.id)).toEqual([
      `${refundWorkflowId(again.refund.refundKey)}:payment.refunded`,
    ]);
    await recordHistory(h.client.workflow.getHandle(refundWorkflowId(again.refund.refundKey)), 'refund-partial');
  });

  it('an explicit --key reused for another amount is refused, not passed off as done', async () => {
    const { input } = await completedCheckout(h);
    const key = `ticket-${randomUUID().slice(0, 8)}`;
    expect((await runCli(h, ['refund', input.orderId, '--amount', '300', '--key', key])).code).toBe(0);

    const reused = await runCli(h, ['refund', input.orderId, '--amount', '400', '--key', key]);
    expect(reused.code).toBe(1);
    expect(reasonLine(reused)).toMatch(/REFUND_KEY_CONFLICT.*already used for EUR 3\.00/);
    expect((await stripeRefunds(input.checkoutId)).map((r) => r.amount)).toEqual([300]);
  });

  it('partial refunds adding up to the total end REFUNDED and put the stock back', async () => {
    const { input, sku } = await completedCheckout(h, { priceMinor: 1000, quantity: 3, stock: 10 });
    expect(await h.stock(sku)).toBe(7);

    const a = await runCli(h, ['refund', input.orderId, '--amount', '1000', '--reason', 'first item', '--json']);
    const b = await runCli(h, ['refund', input.orderId, '--amount', '1500', '--reason', 'second item', '--json']);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(json<{ refund: RefundResult }>(b).refund).toMatchObject({ orderStatus: 'PARTIALLY_REFUNDED', totalRefunded: 2500 });
    expect(await h.stock(sku)).toBe(7);

    // No amount: whatever is left.
    const rest = await runCli(h, ['refund', input.orderId, '--reason', 'rest']);
    expect(rest.code).toBe(0);
    expect(rest.stdout).toMatch(/Refunded\s+EUR 5\.00/);
    expect(rest.stdout).toMatch(/Order\s+REFUNDED, EUR 30\.00 of EUR 30\.00 refunded\n/);
    expect(rest.stdout).toMatch(/Stock\s+returned to sale/);

    expect(await h.stock(sku)).toBe(10);
    expect(await order(input.orderId)).toMatchObject({ status: 'REFUNDED', refundedMinor: 3000 });
    const [payment] = await h.db.select().from(schema.payments).where(eq(schema.payments.orderId, input.orderId));
    expect(payment).toMatchObject({ refundedMinor: 3000, status: 'refunded' });
    expect((await stripeRefunds(input.checkoutId)).map((r) => r.amount).sort()).toEqual([1000, 1500, 500].sort());

    // Refund events continue the order's sequence after order.confirmed, one number each.
    const events = await h.events(input.orderId, (es) => es.filter((e) => e.type === 'payment.refunded').length === 3);
    const confirmed = events.find((e) => e.type === 'order.confirmed')!;
    const refunded = events.filter((e) => e.type === 'payment.refunded');
    expect(refunded.map((e) => e.data.sequence)).toEqual([1, 2, 3].map((n) => confirmed.data.sequence + n));
    expect(refunded.map((e) => e.data.totalRefunded)).toEqual([1000, 2500, 3000]);

    const nothing = await runCli(h, ['refund', input.orderId, '--amount', '1', '--reason', 'one more']);
    expect(nothing.code).toBe(1);
    expect(reasonLine(nothing)).toMatch(/NOTHING_TO_REFUND.*already fully refunded/);
    await recordHistory(h.client.workflow.getHandle(refundWorkflowId(json<{ refund: RefundResult }>(a).refund.refundKey)), 'refund-first-of-three');
  });

  it('an over-refund is refused with the amount left, and nothing moves', async () => {
    const { input } = await completedCheckout(h, { priceMinor: 1250, quantity: 2 });
    expect((await runCli(h, ['refund', input.orderId, '--amount', '2000', '--reason', 'most of it'])).code).toBe(0);

    const over = await runCli(h, ['refund', input.orderId, '--amount', '600', '--reason', 'too much']);
    expect(over.code).toBe(1);
    expect(over.stdout).toBe('');
    expect(reasonLine(over)).toBe(
      `error: refund refused (OVER_REFUND): Refund of EUR 6.00 exceeds the EUR 5.00 left to refund on order ${input.orderId}`,
    );
    const overJson = await runCli(h, ['refund', input.orderId, '--amount', '600', '--reason', 'too much', '--json']);
    expect(overJson.code).toBe(1);
    expect(json(overJson)).toMatchObject({ ok: false, error: { code: 'OVER_REFUND' } });

    expect((await stripeRefunds(input.checkoutId)).map((r) => r.amount)).toEqual([2000]);
    expect(await order(input.orderId)).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedMinor: 2000 });
  });

  it('concurrent refunds of one order are serialised: never more than the order total', async () => {
    const { input } = await completedCheckout(h, { priceMinor: 1000, quantity: 1 });
    const runs = await Promise.all(
      ['a', 'b', 'c'].map((n) => runCli(h, ['refund', input.orderId, '--amount', '600', '--reason', `racer ${n}`, '--json'])),
    );
    expect(runs.map((r) => r.code).sort()).toEqual([0, 1, 1]);
    for (const refused of runs.filter((r) => r.code === 1)) {
      expect(['OVER_REFUND', 'NOTHING_TO_REFUND']).toContain(json<{ error: { code: string } }>(refused).error.code);
    }
    expect((await stripeRefunds(input.checkoutId)).map((r) => r.amount)).toEqual([600]);
    expect(await order(input.orderId)).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedMinor: 600 });
  });

  it('a refund waiting on Stripe holds its amount: a second one for more than the rest is refused before Stripe is called', async () => {
    const { input } = await completedCheckout(h, { priceMinor: 1000, quantity: 1 });
    const held = faults.hold('createStripeRefund');
    const first = runCli(h, ['refund', input.orderId, '--amount', '600', '--reason', 'first']);
    await held.reached;
    try {
      const second = await runCli(h, ['refund', input.orderId, '--amount', '600', '--reason', 'second']);
      expect(second.code).toBe(1);
      expect(reasonLine(second)).toMatch(/\(OVER_REFUND\): Refund of EUR 6\.00 exceeds the EUR 4\.00 left .* \(EUR 6\.00 is being refunded by another request\)$/);
      expect(await stripeRefunds(input.checkoutId)).toEqual([]);
    } finally {
      held.release();
    }
    expect((await first).code).toBe(0);
    expect((await stripeRefunds(input.checkoutId)).map((r) => r.amount)).toEqual([600]);
    expect(await order(input.orderId)).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedMinor: 600 });
  });

  it('refuses an order whose checkout did not complete', async () => {
    const sku = await h.seedProduct({ stock: 5 });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_chargeDeclined' });
    expect((await h.result(input.checkoutId)).status).toBe('FAILED');

    const run = await runCli(h, ['refund', input.checkoutId]);
    expect(run.code).toBe(1);
    expect(reasonLine(run)).toMatch(/ORDER_NOT_REFUNDABLE.*is FAILED; only a confirmed order can be refunded/);
  });

  it('refuses a checkout still in progress', async () => {
    const sku = await h.seedProduct({ stock: 5 });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_authenticationRequired' });
    await h.waitForStatus(input.checkoutId, (s) => s.status === 'REQUIRES_ACTION');
    try {
      const run = await runCli(h, ['refund', input.checkoutId]);
      expect(run.code).toBe(1);
      expect(reasonLine(run)).toBe(
        `error: refund refused (ORDER_NOT_REFUNDABLE): checkout ${input.checkoutId} is still running; an order can be refunded once its checkout has completed`,
      );
    } finally {
      await runCli(h, ['cancel', input.checkoutId]);
    }
  });

  it('refuses an unknown order or checkout id', async () => {
    for (const id of [randomUUID(), 'not-an-id']) {
      const run = await runCli(h, ['refund', id, '--amount', '100']);
      expect(run.code).toBe(1);
      expect(reasonLine(run)).toBe(`error: unknown order or checkout ${id}`);
    }
  });

  it('usage errors exit 2 before anything is touched', async () => {
    for (const args of [
      ['refund'],
      ['refund', randomUUID(), '--amount', '12.50'],
      ['refund', randomUUID(), '--amount', '0'],
      ['refund', randomUUID(), '--key', 'has spaces'],
    ]) {
      const run = await runCli(h, args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(/^error: /);
    }
  });
});
