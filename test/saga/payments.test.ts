import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import type { CheckoutState } from '../../src/workflows/checkout/contract';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { recordHistory, searchableHistory } from '../support/histories';
import { payloadCodec } from '../../src/temporal/data-converter';

describe('payments that do not simply succeed', () => {
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


  const awaitingAction = (s: CheckoutState) => s.status === 'REQUIRES_ACTION' && s.payment.status === 'requires_action';

  it('a declined card releases the stock and ends FAILED with PAYMENT_DECLINED', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 2 }], paymentMethodId: 'pm_card_chargeDeclined' });

    const result = await h.result(input.checkoutId);
    await recordHistory(handle, 'declined');

    expect(result.failure).toMatchObject({ code: 'PAYMENT_DECLINED', message: expect.stringMatching(/declined/i) });
    expect(await h.stock(sku)).toBe(3);
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money.captured).toBe(0);
    expect(money.intents[0]!.status).toBe('canceled');
    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'checkout.failed'));
    expect(events.map((e) => e.type)).toEqual(['checkout.started', 'stock.reserved', 'payment.voided', 'stock.released', 'checkout.failed']);
    expect(events.at(-1)!.data).toMatchObject({ code: 'PAYMENT_DECLINED', step: 'capturePayment' });
  });

  it('3-D Secure: waits in REQUIRES_ACTION, then completes once the challenge succeeds', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_authenticationRequired' });

    const waiting = await h.waitForStatus(input.checkoutId, awaitingAction);
    expect(waiting.step).toBe('capturePayment');
    // The challenge's link and client secret stay with Stripe: the buyer's API asks for them.
    expect(JSON.stringify(waiting)).not.toMatch(/secret|\/_emulator\/3ds\//);
    await h.emulator.authenticate(waiting.payment.paymentIntentId!, 'succeed');
    await h.deliverPaymentWebhook(input.checkoutId, waiting.payment.paymentIntentId!);

    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    // Nor does the workflow's history carry them, in any payload: whoever reads Temporal cannot pay.
    const history = await searchableHistory(await handle.fetchHistory(), payloadCodec(h.config));
    expect(history).toContain(waiting.payment.paymentIntentId!);
    expect(history).not.toMatch(/_secret_|\/_emulator\/3ds\//);
    await recordHistory(handle, 'three-d-secure-completed');
    expect((await h.emulator.moneyFor(input.checkoutId)).charges).toBe(1);
  });

  it('3-D Secure: a failed challenge undoes the checkout with PAYMENT_AUTHENTICATION_FAILED', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_authenticationRequired' });

    const waiting = await h.waitForStatus(input.checkoutId, awaitingAction);
    await h.emulator.authenticate(waiting.payment.paymentIntentId!, 'fail');
    await h.deliverPaymentWebhook(input.checkoutId, waiting.payment.paymentIntentId!);

    expect((await h.result(input.checkoutId)).failure?.code).toBe('PAYMENT_AUTHENTICATION_FAILED');
    expect(await h.stock(sku)).toBe(3);
  });

  it('3-D Secure never completed: times out, cancels the intent and releases the stock', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const { input, handle } = await h.startCheckout({
      items: [{ sku, quantity: 1 }],
      paymentMethodId: 'pm_card_authenticationRequired',
      paymentActionTimeoutMs: 1_500,
    });

    const result = await h.result(input.checkoutId);
    await recordHistory(handle, 'three-d-secure-timed-out');

    expect(result.failure?.code).toBe('PAYMENT_ACTION_TIMEOUT');
    expect(await h.stock(sku)).toBe(3);
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money.intents[0]!.status).toBe('canceled');
    expect(money.captured).toBe(0);
  });

  it('a late webhook is not a lost payment: on timeout the saga asks Stripe and completes', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const { input } = await h.startCheckout({
      items: [{ sku, quantity: 1 }],
      paymentMethodId: 'pm_card_processing',
      paymentActionTimeoutMs: 3_000,
    });
    const waiting = await h.waitForStatus(input.checkoutId, (s) => s.payment.status === 'processing');
    await h.emulator.settle(waiting.payment.paymentIntentId!, 'succeed');

    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    expect((await h.emulator.moneyFor(input.checkoutId)).charges).toBe(1);
  });

  it('an async payment that settles as failed ends PAYMENT_DECLINED', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_processing' });
    const waiting = await h.waitForStatus(input.checkoutId, (s) => s.payment.status === 'processing');
    await h.emulator.settle(waiting.payment.paymentIntentId!, 'fail');
    await h.deliverPaymentWebhook(input.checkoutId, waiting.payment.paymentIntentId!);

    expect((await h.result(input.checkoutId)).failure?.code).toBe('PAYMENT_DECLINED');
    expect(await h.stock(sku)).toBe(3);
  });

  it('Stripe answering 5xx is retried with the same idempotency key and charges once', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    await h.emulator.injectFault({ status: 503, count: 2, match: 'POST /v1/payment_intents/.*/confirm' });
    await h.emulator.injectFault({ status: 500, count: 1, afterExecute: true, match: 'POST /v1/payment_intents$' });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });

    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money).toMatchObject({ charges: 1, captured: 1250 });
    expect(money.intents).toHaveLength(1);
  });

  it('a Stripe answer slower than the activity timeout is retried and still charges once', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    // The SDK gives up after 10 s; the confirm has already charged when the answer is lost.
    await h.emulator.injectFault({ latencyMs: 11_000, latencyCount: 1, match: 'POST /v1/payment_intents/.*/confirm' });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });

    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    expect((await h.emulator.moneyFor(input.checkoutId)).charges).toBe(1);
    const [payment] = await h.db.select().from(schema.payments).where(eq(schema.payments.checkoutId, input.checkoutId));
    expect(payment!.capturedMinor).toBe(1250);
  });
});
