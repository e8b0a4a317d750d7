import { WorkflowUpdateFailedError } from '@temporalio/client';
import { cancelUpdate } from '../../src/workflows/checkout/contract';
import { StepFaults } from '../support/faults';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { recordHistory } from '../support/histories';

/** Cancel while each step is in flight: the step finishes, then everything done so far is undone. */
describe('cancelling a checkout', () => {
  const faults = new StepFaults();
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness({ interceptors: faults.interceptors() });
  });
  afterAll(async () => {
    await h?.assertNoChargeWithoutOrderOrRefund();
    await h?.close();
  });

  const cases: [string, string[]][] = [
    ['reserveStock', ['releaseStock']],
    ['confirmPayment', ['refundPayment', 'releaseStock']],
    ['createUser', ['deleteUser', 'refundPayment', 'releaseStock']],
    ['issueSsoToken', ['revokeSsoToken', 'deleteUser', 'refundPayment', 'releaseStock']],
  ];

  it.each(cases)('during %s undoes exactly the steps done so far and ends CANCELLED', async (step, undone) => {
    const sku = await h.seedProduct({ stock: 5 });
    const held = faults.hold(step);
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 2 }] });
    await held.reached;

    const accepted = await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'customer changed their mind' }] });
    expect(accepted.status).not.toBe('CANCELLED');
    held.release();

    const result = await h.result(input.checkoutId);
    await recordHistory(handle, `cancelled-during-${step}`);
    expect(result).toMatchObject({ status: 'CANCELLED', failure: { code: 'CANCELLED', message: 'customer changed their mind' } });
    const state = await h.waitForStatus(input.checkoutId, (s) => s.status === 'CANCELLED');
    expect(state.compensations.map((c) => c.name)).toEqual(undone);
    expect(state.compensations.every((c) => c.status === 'done')).toBe(true);
    expect(await h.stock(sku)).toBe(5);
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money.refunded).toBe(money.captured);
    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'checkout.cancelled'));
    expect(events.at(-1)!.data).toMatchObject({ reason: 'customer changed their mind' });
  });

  it('while waiting for 3-D Secure cancels the payment intent at once', async () => {
    const sku = await h.seedProduct({ stock: 5 });
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_authenticationRequired' });
    await h.waitForStatus(input.checkoutId, (s) => s.status === 'REQUIRES_ACTION');

    await handle.executeUpdate(cancelUpdate, { args: [{}] });

    expect((await h.result(input.checkoutId)).status).toBe('CANCELLED');
    expect((await h.emulator.moneyFor(input.checkoutId)).intents[0]!.status).toBe('canceled');
    expect(await h.stock(sku)).toBe(5);
  });

  it('is refused once the order is being confirmed, and the checkout completes', async () => {
    const sku = await h.seedProduct({ stock: 5 });
    const held = faults.hold('confirmOrder');
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });
    await held.reached;

    await expect(handle.executeUpdate(cancelUpdate, { args: [{}] })).rejects.toThrow(WorkflowUpdateFailedError);
    held.release();

    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
  });

  it('is refused after completion', async () => {
    const sku = await h.seedProduct({ stock: 5 });
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });
    await h.result(input.checkoutId);

    await expect(handle.executeUpdate(cancelUpdate, { args: [{}] })).rejects.toThrow();
  });
});
