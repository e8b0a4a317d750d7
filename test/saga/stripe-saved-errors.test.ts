import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { requestRefund } from '../../src/application/refunds/request-refund';
import { createStripeEmulator, type RunningStripeEmulator } from '../../tools/stripe-emulator/server';
import { logger } from '../../src/logger';
import type { CheckoutState } from '../../src/workflows/checkout/contract';
import { StepFaults } from '../support/faults';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { startStripeMock, type StripeMock } from '../stripe-emulator/support';

/**
 * Stripe saves the first answer to an idempotency key once the request started executing, a 500
 * included, and replays it to every retry with that key. A payment activity that only re-sends the
 * key would hear that 500 until it gives up; these checkouts show the activities read Stripe
 * instead, and still never charge or refund twice.
 */

interface RequestLogEntry {
  method: string;
  path: string;
  idempotencyKey: string | null;
  status: number;
  replayed: boolean;
  fault: string | null;
}

/** Everything the emulator holds for one checkout, at once (its search may lag on purpose). */
async function emulatorState(h: SagaHarness, checkoutId: string): Promise<{ requests: RequestLogEntry[]; paymentIntents: Stripe.PaymentIntent[] }> {
  const res = await fetch(`${h.config.STRIPE_API_URL}/_emulator/state?metadata.checkoutId=${encodeURIComponent(checkoutId)}`);
  return (await res.json()) as { requests: RequestLogEntry[]; paymentIntents: Stripe.PaymentIntent[] };
}

async function stripeRequests(h: SagaHarness, checkoutId: string): Promise<RequestLogEntry[]> {
  return (await emulatorState(h, checkoutId)).requests;
}

const CONFIRM = '^POST /v1/payment_intents/[^/]+/confirm$';
const CREATE = '^POST /v1/payment_intents$';
const REFUNDS = '^POST /v1/refunds$';

describe('Stripe replays a saved 500 to every retry: the payment activities ask Stripe what happened', () => {
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


  const settledOrParked = (s: CheckoutState) => ['COMPLETED', 'FAILED', 'CANCELLED', 'NEEDS_ATTENTION'].includes(s.status);

  it('a 500 after the confirm charged the card: the checkout completes with exactly one charge', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    await h.emulator.injectFault({ status: 500, afterExecute: true, match: CONFIRM });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });

    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    expect(await h.emulator.moneyFor(input.checkoutId)).toMatchObject({ charges: 1, captured: 1250, refunded: 0 });
    const confirms = (await stripeRequests(h, input.checkoutId)).filter((r) => r.path.endsWith('/confirm'));
    expect(confirms.map((r) => [r.status, r.fault])).toEqual([[500, 'after_execute']]);
  });

  it('a 500 after the intent was created: the checkout completes with one intent and one charge', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    await h.emulator.injectFault({ status: 500, afterExecute: true, match: CREATE });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });

    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money).toMatchObject({ charges: 1, captured: 1250 });
    expect(money.intents).toHaveLength(1);
  });

  it('a confirm that started and kept nothing (its 500 saved for the key) is sent again under a new key: one charge', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    await h.emulator.injectFault({ status: 500, afterExecute: true, rolledBack: true, match: CONFIRM });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });

    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    expect(await h.emulator.moneyFor(input.checkoutId)).toMatchObject({ charges: 1, captured: 1250 });
    const keys = (await stripeRequests(h, input.checkoutId)).filter((r) => r.path.endsWith('/confirm') && r.status === 200).map((r) => r.idempotencyKey);
    expect(keys).toEqual([`checkout-${input.checkoutId}:confirm:2`]);
  });

  it("a 500 after the undo's refund went through: the checkout is undone with exactly one refund, announced once", async () => {
    const sku = await h.seedProduct({ stock: 3 });
    faults.failPermanently('createUser');
    await h.emulator.injectFault({ status: 500, afterExecute: true, match: REFUNDS });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });

    const result = await h.result(input.checkoutId);

    expect(result.status).toBe('FAILED');
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money).toMatchObject({ charges: 1, captured: 1250, refunded: 1250 });
    const [refund] = await h.emulator.refundsFor(money.intents[0]!.id);
    expect(await h.emulator.refundsFor(money.intents[0]!.id)).toHaveLength(1);
    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'checkout.failed'));
    expect(events.filter((e) => e.type === 'payment.refunded').map((e) => e.data.refundId)).toEqual([refund!.id]);
    expect(await h.stock(sku)).toBe(3);
  });

  it("a refund request of the undo that started and kept nothing is sent again under a new key: one refund", async () => {
    const sku = await h.seedProduct({ stock: 3 });
    faults.failPermanently('createUser');
    await h.emulator.injectFault({ status: 500, afterExecute: true, rolledBack: true, match: REFUNDS });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });

    expect((await h.result(input.checkoutId)).status).toBe('FAILED');
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money).toMatchObject({ captured: 1250, refunded: 1250 });
    expect(await h.emulator.refundsFor(money.intents[0]!.id)).toHaveLength(1);
  });

  it('a void whose key already holds a refusal Stripe saved while the payment was processing still cancels the intent once the bank has failed it', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_processing', compensationRetryWindowMs: 5_000 });
    const waiting = await h.waitForStatus(input.checkoutId, (s) => s.payment.status === 'processing');
    const paymentIntentId = waiting.payment.paymentIntentId!;
    // What the undo used to send for a processing payment: Stripe refuses it and saves the 400 for the key.
    const refused = await h.emulator.stripe.paymentIntents
      .cancel(paymentIntentId, { cancellation_reason: 'abandoned' }, { idempotencyKey: `checkout-${input.checkoutId}:void` })
      .catch((err: Stripe.errors.StripeError) => err);
    expect(refused).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });

    await h.emulator.settle(paymentIntentId, 'fail');
    await h.deliverPaymentWebhook(input.checkoutId, paymentIntentId);

    const ended = await h.waitForStatus(input.checkoutId, settledOrParked);
    expect(ended.status).toBe('FAILED');
    expect(ended.failure?.code).toBe('PAYMENT_DECLINED');
    expect(ended.compensations.find((c) => c.name === 'refundPayment')).toMatchObject({ status: 'done', outcome: 'payment intent cancelled before capture' });
    expect((await h.emulator.stripe.paymentIntents.retrieve(paymentIntentId)).status).toBe('canceled');
    expect(await h.stock(sku)).toBe(3);
  });

  it('an operator refund answered 500 after Stripe refunded: the refund completes, once', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 2 }] });
    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    await h.emulator.injectFault({ status: 500, afterExecute: true, match: REFUNDS });

    const { result } = await requestRefund(
      h.client,
      h.taskQueue,
      { orderId: input.orderId, checkoutId: input.checkoutId, amount: 700, refundKey: `test-${randomUUID()}`, source: 'cli' },
      { waitMs: 90_000 },
    );

    expect(result).toMatchObject({ amount: 700, totalRefunded: 700, orderStatus: 'PARTIALLY_REFUNDED' });
    const money = await h.emulator.moneyFor(input.checkoutId);
    const refunds = await h.emulator.refundsFor(money.intents[0]!.id);
    expect(refunds.map((r) => [r.id, r.amount])).toEqual([[result.stripeRefundId, 700]]);
  });

  it('an operator refund whose request started and kept nothing is sent again under a new key: one refund', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 2 }] });
    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    await h.emulator.injectFault({ status: 500, afterExecute: true, rolledBack: true, match: REFUNDS });
    const refundKey = `test-${randomUUID()}`;

    const { result } = await requestRefund(
      h.client,
      h.taskQueue,
      { orderId: input.orderId, checkoutId: input.checkoutId, amount: 700, refundKey, source: 'cli' },
      { waitMs: 90_000 },
    );

    expect(result).toMatchObject({ amount: 700, totalRefunded: 700 });
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect((await h.emulator.refundsFor(money.intents[0]!.id)).map((r) => r.amount)).toEqual([700]);
    const sent = (await stripeRequests(h, input.checkoutId)).filter((r) => r.path === '/v1/refunds' && r.status === 200);
    expect(sent.map((r) => r.idempotencyKey)).toEqual([`refund-${refundKey}:2`]);
  });
});

describe("a 500 after the intent was created, while Stripe's search does not show it yet", () => {
  let stripeMock: StripeMock;
  let emulator: RunningStripeEmulator;
  let h: SagaHarness;
  beforeAll(async () => {
    stripeMock = await startStripeMock();
    // Stripe: "under normal operating conditions, data is searchable in under 1 minute". A whole
    // minute here: the saga must not wait for search, so nothing in this test waits that long.
    emulator = await createStripeEmulator({
      webhookSecret: 'whsec_search_lag_test',
      stripeMockUrl: stripeMock.url,
      searchIndexDelayMs: 60_000,
      logger: logger.child({ component: 'stripe-emulator' }, { level: 'silent' }),
    }).listen(0);
    h = await startSagaHarness({ env: { STRIPE_API_URL: emulator.url } });
  });
  afterAll(async () => {
    await h?.close();
    await emulator?.close();
    await stripeMock?.stop();
  });

  it('the saga finds the intent in the list of new intents (consistent, unlike search) instead of creating a second one', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    await h.emulator.injectFault({ status: 500, afterExecute: true, match: CREATE });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });

    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    const { requests, paymentIntents } = await emulatorState(h, input.checkoutId);
    const creates = requests.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents');
    expect(creates.filter((r) => !r.replayed).map((r) => [r.status, r.idempotencyKey])).toEqual([[500, `checkout-${input.checkoutId}:payment-intent`]]);
    expect(paymentIntents.map((pi) => [pi.status, pi.amount_received])).toEqual([['succeeded', 1250]]);
  });
});
