import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import { buyerPresentSignal, cancelUpdate, paymentEventSignal, type CheckoutState } from '../../src/workflows/checkout/contract';
import { startSagaHarness, sleep, type SagaHarness } from '../support/harness';
import { recordHistory } from '../support/histories';

/**
 * Payments that do not succeed at once: the saga believes Stripe, not the signals it receives; it
 * follows a payment the bank is still working on instead of failing it; and it gives up a 3-D
 * Secure challenge the buyer walked away from, so their stock goes back on sale.
 */
describe('following a payment until Stripe says how it ended', () => {
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness();
  });
  afterEach(async () => {
    await h.emulator.clearFaults();
  });
  afterAll(async () => {
    await h?.assertNoChargeWithoutOrderOrRefund();
    await h?.close();
  });

  const awaitingAction = (s: CheckoutState) => s.status === 'REQUIRES_ACTION' && Boolean(s.payment.paymentIntentId);
  const processing = (s: CheckoutState) => s.payment.status === 'processing';

  async function orderStatus(checkoutId: string) {
    const [order] = await h.db.select().from(schema.orders).where(eq(schema.orders.checkoutId, checkoutId));
    return order?.status;
  }

  /** How often the saga asked Stripe about an intent (GET /v1/payment_intents/:id). */
  async function timesAsked(paymentIntentId: string): Promise<number> {
    return (await h.emulator.requests()).filter((r) => r.method === 'GET' && r.path === `/v1/payment_intents/${paymentIntentId}`).length;
  }

  it('a forged "succeeded" signal for an unpaid intent confirms nothing: the checkout ends FAILED with nothing charged', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const { input, handle } = await h.startCheckout({
      items: [{ sku, quantity: 1 }],
      paymentMethodId: 'pm_card_authenticationRequired',
      paymentActionTimeoutMs: 3_000,
    });
    const waiting = await h.waitForStatus(input.checkoutId, awaitingAction);

    await handle.signal(paymentEventSignal, {
      stripeEventId: 'evt_forged',
      type: 'payment_intent.succeeded',
      paymentIntentId: waiting.payment.paymentIntentId!,
      intentStatus: 'succeeded',
    });

    const result = await h.result(input.checkoutId);
    await recordHistory(handle, 'forged-success-signal');
    expect(result.status).toBe('FAILED');
    expect(await orderStatus(input.checkoutId)).toBe('FAILED');
    const state = await h.waitForStatus(input.checkoutId, (s) => s.status === 'FAILED');
    // It never got past the payment step: no account, no login token, nothing to confirm.
    expect(state.compensations.map((c) => c.name)).toEqual(['refundPayment', 'releaseStock']);
    expect(await h.db.select().from(schema.users).where(eq(schema.users.createdByCheckoutId, input.checkoutId))).toEqual([]);
    expect((await h.emulator.moneyFor(input.checkoutId)).captured).toBe(0);
    expect(await h.stock(sku)).toBe(3);
    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'checkout.failed'));
    expect(events.map((e) => e.type)).not.toContain('order.confirmed');
    expect(events.map((e) => e.type)).not.toContain('payment.captured');
  });

  it('an intent that no longer pays for this checkout at Stripe fails PAYMENT_NOT_VERIFIED and is refunded', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_authenticationRequired' });
    const waiting = await h.waitForStatus(input.checkoutId, awaitingAction);
    const paymentIntentId = waiting.payment.paymentIntentId!;

    // Someone with the shop's Stripe key points the intent at another checkout before it is paid.
    await h.emulator.stripe.paymentIntents.update(paymentIntentId, { metadata: { checkoutId: '00000000-0000-4000-8000-000000000000' } });
    await h.emulator.authenticate(paymentIntentId, 'succeed');
    await h.deliverPaymentWebhook(input.checkoutId, paymentIntentId);

    const result = await h.result(input.checkoutId);
    await recordHistory(handle, 'payment-not-verified');
    expect(result.failure?.code).toBe('PAYMENT_NOT_VERIFIED');
    expect(await orderStatus(input.checkoutId)).toBe('FAILED');
    const intent = await h.emulator.stripe.paymentIntents.retrieve(paymentIntentId);
    expect(intent.amount_received).toBe(1250);
    const refunds = await h.emulator.refundsFor(paymentIntentId);
    expect(refunds.reduce((sum, r) => sum + r.amount, 0)).toBe(1250);
    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'checkout.failed'));
    expect(events.map((e) => e.type)).not.toContain('order.confirmed');
    expect(events.map((e) => e.type)).toContain('payment.refunded');
  });

  it('a payment still processing when the action timeout passes is followed, and completes once the bank settles it', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const { input, handle } = await h.startCheckout({
      items: [{ sku, quantity: 1 }],
      paymentMethodId: 'pm_card_processing',
      paymentActionTimeoutMs: 1_000,
      paymentReconcileIntervalMs: 500,
    });
    const waiting = await h.waitForStatus(input.checkoutId, processing);
    const paymentIntentId = waiting.payment.paymentIntentId!;
    // Past the action timeout, and Stripe was asked again and again: still processing, still followed.
    while ((await timesAsked(paymentIntentId)) < 3) await sleep(200);
    expect((await handle.query('status')) as CheckoutState).toMatchObject({ status: 'PROCESSING', payment: { status: 'processing' } });

    // Settled without a webhook reaching the saga: it learns it by asking.
    await h.emulator.settle(paymentIntentId, 'succeed');

    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    await recordHistory(handle, 'processing-settled-late');
    expect(await orderStatus(input.checkoutId)).toBe('CONFIRMED');
    expect((await h.emulator.moneyFor(input.checkoutId)).charges).toBe(1);
  });

  it.each([
    ['succeed', 1250],
    ['fail', 0],
  ] as const)('a buyer who cancels while the payment is processing (bank answers %s) ends CANCELLED with nothing kept', async (outcome, captured) => {
    const sku = await h.seedProduct({ stock: 3 });
    const { input, handle } = await h.startCheckout({
      items: [{ sku, quantity: 1 }],
      paymentMethodId: 'pm_card_processing',
      paymentReconcileIntervalMs: 500,
      // The bank takes longer than an undo is retried (days, in real life): waiting for it is not a failing undo.
      compensationRetryWindowMs: 2_000,
    });
    const waiting = await h.waitForStatus(input.checkoutId, processing);
    const paymentIntentId = waiting.payment.paymentIntentId!;

    await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'changed my mind' }] });
    // The undo waits for the bank: Stripe cannot cancel a processing payment, nor refund it yet.
    const following = await h.waitForStatus(input.checkoutId, (s) => s.status === 'COMPENSATING' && s.compensations[0]?.name === 'refundPayment');
    expect(following.compensations[0]!.status).toBe('running');
    const askedBeforeCancel = await timesAsked(paymentIntentId);
    // Asked 0.5 + 1 + 2 s apart: the bank answers after the undo's retry window has passed.
    while ((await timesAsked(paymentIntentId)) < askedBeforeCancel + 4) await sleep(200);
    await h.emulator.settle(paymentIntentId, outcome);

    const result = await h.result(input.checkoutId);
    if (outcome === 'succeed') await recordHistory(handle, 'cancelled-while-processing');
    expect(result.status).toBe('CANCELLED');
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money.captured).toBe(captured);
    expect(money.refunded).toBe(captured);
    expect(await h.stock(sku)).toBe(3);
  });

  it('a 3-D Secure challenge the buyer stopped following is given up early; one still followed is not', async () => {
    const sku = await h.seedProduct({ stock: 2 });
    const timings = { paymentMethodId: 'pm_card_authenticationRequired', paymentActionTimeoutMs: 90_000, paymentAbandonAfterMs: 2_000 };
    const left = await h.startCheckout({ items: [{ sku, quantity: 1 }], ...timings });
    const stayed = await h.startCheckout({ items: [{ sku, quantity: 1 }], ...timings });
    await h.waitForStatus(left.input.checkoutId, awaitingAction);
    const staying = await h.waitForStatus(stayed.input.checkoutId, awaitingAction);

    // The API signals buyerPresent while the buyer's page follows the checkout; here the test does.
    let following = true;
    const heartbeat = (async () => {
      while (following) {
        await stayed.handle.signal(buyerPresentSignal);
        await sleep(500);
      }
    })();
    try {
      const abandoned = await h.result(left.input.checkoutId);
      await recordHistory(left.handle, 'three-d-secure-abandoned');
      expect(abandoned.failure?.code).toBe('PAYMENT_ABANDONED');
      expect((await h.emulator.moneyFor(left.input.checkoutId)).intents[0]!.status).toBe('canceled');
      expect(await h.stock(sku)).toBe(1);
      expect(((await stayed.handle.query('status')) as CheckoutState).status).toBe('REQUIRES_ACTION');
    } finally {
      following = false;
      await heartbeat;
    }

    await h.emulator.authenticate(staying.payment.paymentIntentId!, 'succeed');
    await h.deliverPaymentWebhook(stayed.input.checkoutId, staying.payment.paymentIntentId!);
    expect((await h.result(stayed.input.checkoutId)).status).toBe('COMPLETED');
  });
});
