import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import { retryCompensationsUpdate, type CheckoutState } from '../../src/workflows/checkout/contract';
import { StepFaults } from '../support/faults';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { recordHistory } from '../support/histories';

/**
 * A fault at each step must undo exactly the steps before it, newest first, and say so in the
 * status, the database, Stripe and Kafka.
 */
describe('a step that fails for good', () => {
  const faults = new StepFaults();
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness({ interceptors: faults.interceptors() });
  });
  afterEach(() => faults.clear());
  afterAll(async () => {
    await h?.assertNoChargeWithoutOrderOrRefund();
    await h?.close();
  });

  async function runUntilFailed(failing: string) {
    const sku = await h.seedProduct({ stock: 4 });
    faults.failPermanently(failing);
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 3 }] });
    const result = await h.result(input.checkoutId);
    await recordHistory(handle, `failed-at-${failing}`);
    const state = await h.waitForStatus(input.checkoutId, (s) => s.status === 'FAILED');
    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'checkout.failed'));
    return { sku, input, result, state, events };
  }

  const undone = (state: CheckoutState) => state.compensations.map((c) => [c.name, c.status]);

  it('at reserveStock: nothing to undo, the checkout ends FAILED', async () => {
    const { sku, result, state, events } = await runUntilFailed('reserveStock');

    expect(result.failure).toMatchObject({ code: 'STEP_FAILED' });
    expect(state.failure?.code).toBe('STEP_FAILED');
    expect(await h.stock(sku)).toBe(4);
    expect(undone(state)).toEqual([['releaseStock', 'done']]);
    expect(state.compensations[0]!.outcome).toBe('nothing reserved');
    expect(events.map((e) => e.type)).toEqual(['checkout.started', 'checkout.failed']);
  });

  it('at capturePayment: the stock goes back and nothing is charged', async () => {
    const { input, sku, state, events } = await runUntilFailed('createPaymentIntent');

    expect(await h.stock(sku)).toBe(4);
    expect(undone(state)).toEqual([['releaseStock', 'done']]);
    expect((await h.emulator.moneyFor(input.checkoutId)).captured).toBe(0);
    expect(events.map((e) => e.type)).toEqual(['checkout.started', 'stock.reserved', 'stock.released', 'checkout.failed']);
  });

  it('at createUser: one refund, the stock back, no account left behind', async () => {
    const { input, sku, state, events } = await runUntilFailed('createUser');

    expect(undone(state)).toEqual([
      ['deleteUser', 'done'],
      ['refundPayment', 'done'],
      ['releaseStock', 'done'],
    ]);
    expect(await h.stock(sku)).toBe(4);
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money).toMatchObject({ captured: 3750, refunded: 3750, charges: 1 });
    expect(await h.db.select().from(schema.users).where(eq(schema.users.email, input.customer.email))).toHaveLength(0);
    expect(events.map((e) => e.type)).toEqual([
      'checkout.started',
      'stock.reserved',
      'payment.captured',
      'payment.refunded',
      'stock.released',
      'checkout.failed',
    ]);
  });

  it('at issueSsoToken: the new account is removed, the payment refunded, the stock released', async () => {
    const { input, sku, state, events } = await runUntilFailed('issueSsoToken');

    expect(undone(state)).toEqual([
      ['revokeSsoToken', 'done'],
      ['deleteUser', 'done'],
      ['refundPayment', 'done'],
      ['releaseStock', 'done'],
    ]);
    expect(state.compensations.find((c) => c.name === 'deleteUser')!.outcome).toBe('account removed');
    expect(await h.db.select().from(schema.users).where(eq(schema.users.email, input.customer.email))).toHaveLength(0);
    expect(await h.stock(sku)).toBe(4);
    expect((await h.emulator.moneyFor(input.checkoutId)).refunded).toBe(3750);
    expect(events.map((e) => e.type).slice(-4)).toEqual(['user.created', 'payment.refunded', 'stock.released', 'checkout.failed']);
  });

  it('at confirmOrder: the token is revoked and everything before it undone; the order ends FAILED', async () => {
    const { input, sku, state } = await runUntilFailed('confirmOrder');

    expect(undone(state).map(([name]) => name)).toEqual(['revokeSsoToken', 'deleteUser', 'refundPayment', 'releaseStock']);
    const [token] = await h.db.select().from(schema.ssoTokens).where(eq(schema.ssoTokens.checkoutId, input.checkoutId));
    expect(token!.revokedAt).not.toBeNull();
    const [order] = await h.db.select().from(schema.orders).where(eq(schema.orders.id, input.orderId));
    expect(order!.status).toBe('FAILED');
    const [checkout] = await h.db.select().from(schema.checkouts).where(eq(schema.checkouts.id, input.checkoutId));
    expect(checkout).toMatchObject({ status: 'FAILED', failureCode: 'STEP_FAILED', step: 'confirmOrder' });
    expect(await h.stock(sku)).toBe(4);
  });

  it('keeps an existing account when a later step fails', async () => {
    const sku = await h.seedProduct({ stock: 4 });
    const first = await h.startCheckout({ items: [{ sku, quantity: 1 }] });
    await h.result(first.input.checkoutId);

    faults.failPermanently('issueSsoToken');
    const second = await h.startCheckout({ items: [{ sku, quantity: 1 }], customer: first.input.customer });
    await h.result(second.input.checkoutId);
    const state = await h.waitForStatus(second.input.checkoutId, (s) => s.status === 'FAILED');

    expect(state.compensations.find((c) => c.name === 'deleteUser')!.outcome).toBe('account kept (not created by this checkout)');
    expect(await h.db.select().from(schema.users).where(eq(schema.users.email, first.input.customer.email))).toHaveLength(1);
  });

  it('retries a transient fault and completes without a second charge', async () => {
    const sku = await h.seedProduct({ stock: 4 });
    faults.failTimes('confirmPayment', 2);
    faults.failTimes('reserveStock', 1);
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });

    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    expect((await h.emulator.moneyFor(input.checkoutId)).charges).toBe(1);
    expect(await h.stock(sku)).toBe(3);
  });
});

describe('a compensation that keeps failing', () => {
  const faults = new StepFaults();
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness({ interceptors: faults.interceptors() });
  });
  afterAll(async () => {
    await h?.assertNoChargeWithoutOrderOrRefund();
    await h?.close();
  });

  it('parks the checkout in NEEDS_ATTENTION with what is left to undo, then finishes once retried', async () => {
    const sku = await h.seedProduct({ stock: 2 });
    faults.failPermanently('createUser');
    faults.failUntilCleared('refundPayment');
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 1 }], compensationRetryWindowMs: 2_000 });

    const parked = await h.waitForStatus(input.checkoutId, (s) => s.status === 'NEEDS_ATTENTION');
    expect(parked.compensations.map((c) => [c.name, c.status])).toEqual([
      ['deleteUser', 'done'],
      ['refundPayment', 'failed'],
      ['releaseStock', 'done'],
    ]);
    expect(parked.compensations[1]!.error).toMatch(/injected outage in refundPayment/);
    const [row] = await h.db.select().from(schema.checkouts).where(eq(schema.checkouts.id, input.checkoutId));
    expect(row!.status).toBe('NEEDS_ATTENTION');
    await h.events(input.orderId, (es) => es.some((e) => e.type === 'checkout.needs_attention'));
    expect((await h.emulator.moneyFor(input.checkoutId)).refunded).toBe(0);

    faults.clear('refundPayment');
    await handle.executeUpdate(retryCompensationsUpdate);

    expect((await h.result(input.checkoutId)).status).toBe('FAILED');
    await recordHistory(handle, 'needs-attention-then-retried');
    expect((await h.emulator.moneyFor(input.checkoutId)).refunded).toBe(1250);
    expect(await h.stock(sku)).toBe(2);
  });
});
