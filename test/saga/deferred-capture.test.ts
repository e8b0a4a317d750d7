import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import { cancelUpdate } from '../../src/workflows/checkout/contract';
import { StepFaults } from '../support/faults';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { recordHistory } from '../support/histories';

/**
 * PAYMENT_CAPTURE_MODE=deferred: the payment step only authorizes the card, the money moves just
 * before the order is confirmed, and a checkout that fails in between voids the authorization, so
 * the buyer never sees a charge and a refund on their statement.
 */
describe('deferred capture: authorize at the payment step, capture at confirm', () => {
  const faults = new StepFaults();
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness({ interceptors: faults.interceptors() });
  });
  afterEach(async () => {
    faults.clear();
    await h.emulator.clearFaults();
  });
  afterAll(async () => {
    await h?.assertNoChargeWithoutOrderOrRefund();
    await h?.close();
  });

  const deferred = { captureMode: 'deferred' as const };
  const capturesOf = async (paymentIntentId: string) =>
    (await h.emulator.requests()).filter((r) => r.method === 'POST' && r.path === `/v1/payment_intents/${paymentIntentId}/capture` && r.status === 200 && !r.replayed);

  it('completes with exactly one capture of the cart total, made just before the order is confirmed', async () => {
    const sku = await h.seedProduct({ stock: 5, priceMinor: 1999 });
    const { input, handle } = await h.startCheckout({ ...deferred, items: [{ sku, quantity: 2 }] });

    expect(await h.result(input.checkoutId)).toMatchObject({ status: 'COMPLETED' });
    await recordHistory(handle, 'deferred-completed');
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money).toMatchObject({ captured: 3998, refunded: 0, released: 0, authorized: 0, charges: 1 });
    expect(money.intents[0]).toMatchObject({ capture_method: 'manual', status: 'succeeded', amount_received: 3998 });
    expect(await capturesOf(money.intents[0]!.id)).toHaveLength(1);
    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'order.confirmed'));
    expect(events.map((e) => e.type)).toEqual(['checkout.started', 'stock.reserved', 'payment.authorized', 'user.created', 'payment.captured', 'order.confirmed']);
    const [order] = await h.db.select().from(schema.orders).where(eq(schema.orders.checkoutId, input.checkoutId));
    expect(order?.status).toBe('CONFIRMED');
  });

  it.each(['createUser', 'issueSsoToken'])('a failure at %s after the authorization voids it: nothing charged, nothing refunded', async (step) => {
    const sku = await h.seedProduct({ stock: 5 });
    faults.failPermanently(step);
    const { input, handle } = await h.startCheckout({ ...deferred, items: [{ sku, quantity: 1 }] });

    expect(await h.result(input.checkoutId)).toMatchObject({ status: 'FAILED' });
    if (step === 'issueSsoToken') await recordHistory(handle, 'deferred-failed-at-issueSsoToken');
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money).toMatchObject({ captured: 0, refunded: 0, released: 1250, charges: 0 });
    expect(money.intents[0]).toMatchObject({ status: 'canceled', amount_received: 0 });
    expect(await capturesOf(money.intents[0]!.id)).toEqual([]);
    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'checkout.failed'));
    expect(events.map((e) => e.type)).toContain('payment.voided');
    expect(events.map((e) => e.type)).not.toContain('payment.refunded');
    expect(await h.stock(sku)).toBe(5);
  });

  it('a cancel after the authorization voids it', async () => {
    const sku = await h.seedProduct({ stock: 5 });
    const held = faults.hold('createUser');
    const { input, handle } = await h.startCheckout({ ...deferred, items: [{ sku, quantity: 1 }] });
    await held.reached;
    await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'changed my mind' }] });
    held.release();

    expect(await h.result(input.checkoutId)).toMatchObject({ status: 'CANCELLED' });
    expect(await h.emulator.moneyFor(input.checkoutId)).toMatchObject({ captured: 0, refunded: 0, released: 1250 });
  });

  it('an authorization that expired before the capture fails the checkout PAYMENT_CAPTURE_FAILED and releases everything', async () => {
    const sku = await h.seedProduct({ stock: 5 });
    const capturing = faults.hold('capturePayment');
    const { input, handle } = await h.startCheckout({ ...deferred, items: [{ sku, quantity: 1 }] });
    await capturing.reached;
    const [intent] = await h.emulator.intentsFor(input.checkoutId);
    await h.emulator.expireAuthorization(intent!.id);
    capturing.release();

    const result = await h.result(input.checkoutId);
    await recordHistory(handle, 'deferred-authorization-expired');
    expect(result.failure).toMatchObject({ code: 'PAYMENT_CAPTURE_FAILED', message: expect.stringMatching(/expired/) });
    const state = await h.waitForStatus(input.checkoutId, (s) => s.status === 'FAILED');
    expect(state.compensations.map((c) => [c.name, c.status])).toEqual([
      ['revokeSsoToken', 'done'],
      ['deleteUser', 'done'],
      ['refundPayment', 'done'],
      ['releaseStock', 'done'],
    ]);
    expect(await h.stock(sku)).toBe(5);
    expect(await h.db.select().from(schema.users).where(eq(schema.users.createdByCheckoutId, input.checkoutId))).toEqual([]);
    expect(await h.emulator.moneyFor(input.checkoutId)).toMatchObject({ captured: 0, refunded: 0 });
    const [order] = await h.db.select().from(schema.orders).where(eq(schema.orders.checkoutId, input.checkoutId));
    expect(order?.status).toBe('FAILED');
  });

  it('a capture that keeps failing undoes the checkout and voids the authorization it left', async () => {
    const sku = await h.seedProduct({ stock: 5 });
    faults.failPermanently('capturePayment');
    const { input } = await h.startCheckout({ ...deferred, items: [{ sku, quantity: 1 }] });

    expect(await h.result(input.checkoutId)).toMatchObject({ status: 'FAILED' });
    expect(await h.emulator.moneyFor(input.checkoutId)).toMatchObject({ captured: 0, refunded: 0, released: 1250, authorized: 0 });
    expect(await h.stock(sku)).toBe(5);
  });

  it('3-D Secure authorizes after the challenge, then captures at confirm', async () => {
    const sku = await h.seedProduct({ stock: 5 });
    const { input } = await h.startCheckout({ ...deferred, items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_authenticationRequired' });
    const waiting = await h.waitForStatus(input.checkoutId, (s) => s.status === 'REQUIRES_ACTION');
    await h.emulator.authenticate(waiting.payment.paymentIntentId!, 'succeed');
    await h.deliverPaymentWebhook(input.checkoutId, waiting.payment.paymentIntentId!);

    expect(await h.result(input.checkoutId)).toMatchObject({ status: 'COMPLETED' });
    expect(await h.emulator.moneyFor(input.checkoutId)).toMatchObject({ captured: 1250, charges: 1, refunded: 0 });
  });

  it('a method that cannot hold funds for a later capture (a bank debit) is charged at once', async () => {
    const sku = await h.seedProduct({ stock: 5 });
    const { input } = await h.startCheckout({ ...deferred, items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_processing' });
    const waiting = await h.waitForStatus(input.checkoutId, (s) => s.payment.status === 'processing');
    expect(waiting.payment.captureMethod).toBe('automatic');
    await h.emulator.settle(waiting.payment.paymentIntentId!, 'succeed');
    await h.deliverPaymentWebhook(input.checkoutId, waiting.payment.paymentIntentId!);

    expect(await h.result(input.checkoutId)).toMatchObject({ status: 'COMPLETED' });
    const money = await h.emulator.moneyFor(input.checkoutId);
    // Stripe's default for an intent without capture_method (automatic_async on current API versions).
    expect(money.intents[0]!.capture_method).not.toBe('manual');
    expect(await capturesOf(money.intents[0]!.id)).toEqual([]);
  });
});
