import type { WorkflowHandle } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import { cancelSignal, cancelUpdate, searchAttributes } from '../../src/workflows/checkout/contract';
import { StepFaults } from '../support/faults';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { recordHistory } from '../support/histories';

/**
 * A checkout can be cancelled three ways: the API and the CLI use the `cancel` update, an
 * integration may send the contract's `cancel` signal, and ops press Cancel in the Temporal Web UI
 * (or run `temporal workflow cancel`), which is Temporal's own cancellation request. All three must
 * end the same way: the step in flight finishes, no later step starts, everything done is undone
 * newest first, and the events tell one consistent story.
 */
type CancelPath = 'update' | 'signal' | 'temporal';

const FORWARD_STEPS = ['reserveStock', 'createPaymentIntent', 'confirmPayment', 'verifyPayment', 'createUser', 'issueSsoToken', 'confirmOrder'];

async function cancelBy(path: CancelPath, handle: WorkflowHandle): Promise<void> {
  const request = { reason: 'customer changed their mind', requestedBy: `test:${path}` };
  if (path === 'update') await handle.executeUpdate(cancelUpdate, { args: [request] });
  else if (path === 'signal') await handle.signal(cancelSignal, request);
  else await handle.cancel();
}

describe('cancelling through the update, the signal or Temporal itself', () => {
  const faults = new StepFaults();
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness({ interceptors: faults.interceptors() });
  });
  afterAll(async () => {
    await h?.assertNoChargeWithoutOrderOrRefund();
    await h?.close();
  });

  const steps: [string, string[]][] = [
    ['reserveStock', ['releaseStock']],
    ['confirmPayment', ['refundPayment', 'releaseStock']],
    ['createUser', ['deleteUser', 'refundPayment', 'releaseStock']],
    ['issueSsoToken', ['revokeSsoToken', 'deleteUser', 'refundPayment', 'releaseStock']],
  ];
  const cases = (['temporal', 'signal', 'update'] as CancelPath[]).flatMap((path) => steps.map(([step, undone]) => [path, step, undone] as const));

  it.each(cases)('a cancel by %s during %s undoes exactly what was done and starts nothing more', async (path, step, undone) => {
    const sku = await h.seedProduct({ stock: 5 });
    const held = faults.hold(step);
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 2 }] });
    await held.reached;

    const cancelledAt = Date.now();
    await cancelBy(path, handle);
    held.release();

    const result = await h.result(input.checkoutId);
    if (path === 'temporal' && step === 'createUser') await recordHistory(handle, 'temporal-cancel-during-createUser');
    expect(result).toMatchObject({ status: 'CANCELLED', failure: { code: 'CANCELLED' } });

    // The held step itself finishes (it may have been retried meanwhile); nothing after it may start.
    const startedAfterCancel = faults.started
      .filter((s) => s.workflowId === handle.workflowId && s.at >= cancelledAt && s.activity !== step && FORWARD_STEPS.includes(s.activity))
      .map((s) => s.activity);
    expect(startedAfterCancel).toEqual([]);

    const state = await h.waitForStatus(input.checkoutId, (s) => s.status === 'CANCELLED');
    expect(state.compensations.map((c) => [c.name, c.status])).toEqual(undone.map((name) => [name, 'done']));

    // What the buyer and the shop are left with: stock back, money back, no account, no order.
    expect(await h.stock(sku)).toBe(5);
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money.refunded).toBe(money.captured);
    expect(await h.db.select().from(schema.users).where(eq(schema.users.createdByCheckoutId, input.checkoutId))).toEqual([]);
    const [order] = await h.db.select().from(schema.orders).where(eq(schema.orders.checkoutId, input.checkoutId));
    expect(order?.status).toBe('CANCELLED');
    const [reservation] = await h.db.select().from(schema.reservations).where(eq(schema.reservations.checkoutId, input.checkoutId));
    expect(reservation?.status).toBe('RELEASED');
    const tokens = await h.db.select().from(schema.ssoTokens).where(eq(schema.ssoTokens.checkoutId, input.checkoutId));
    expect(tokens.filter((t) => t.revokedAt === null)).toEqual([]);

    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'checkout.cancelled'));
    expect(events.map((e) => e.type)).not.toContain('order.confirmed');
    expect(events.at(-1)!.type).toBe('checkout.cancelled');
    const sequences = events.map((e) => e.data.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(sequences.length);

    // What ops see in the Web UI's list.
    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(searchAttributes.status)).toBe('CANCELLED');
  });

  it('a cancel by Temporal once the order is being confirmed is too late: the checkout completes', async () => {
    const sku = await h.seedProduct({ stock: 5 });
    const held = faults.hold('confirmOrder');
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });
    await held.reached;

    await handle.cancel();
    held.release();

    expect(await h.result(input.checkoutId)).toMatchObject({ status: 'COMPLETED' });
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money).toMatchObject({ charges: 1, refunded: 0 });
    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'order.confirmed'));
    expect(events.map((e) => e.type)).not.toContain('checkout.cancelled');
  });
});
