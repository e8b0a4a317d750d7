import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type Stripe from 'stripe';
import * as schema from '../../db/schema';
import { logger } from '../../src/logger';
import { createChargeEventHandler } from '../../src/application/refunds/charge-events';
import {
  EXTERNAL_REFUND_WORKFLOW_TYPE,
  externalRefundKey,
  externalRefundWorkflowId,
  refundEventId,
  type ExternalRefundResult,
} from '../../src/workflows/refund/contract';
import { startTestApi, type TestApi } from '../api/support';
import { StepFaults } from '../support/faults';
import type { SagaHarness } from '../support/harness';
import { recordHistory } from '../support/histories';
import { completedCheckout, emulatorEvents, emulatorState, eventually, reasonLine, refundExternally, runCli } from './support';

/**
 * A refund made outside the service (Stripe dashboard, a bank) arrives as a signed `charge.refunded`
 * webhook: the real API verifies it and hands it to the charge handler, whose ExternalRefundWorkflow
 * brings the order ledger in line with Stripe.
 */
describe('a refund made in Stripe', () => {
  const faults = new StepFaults();
  let api: TestApi;
  let h: SagaHarness;
  let onChargeEvent: ((event: Stripe.Event) => Promise<void>) | undefined;

  beforeAll(async () => {
    api = await startTestApi({ harness: { interceptors: faults.interceptors() }, deps: { onChargeEvent: (event) => onChargeEvent!(event) } });
    h = api.h;
    onChargeEvent = createChargeEventHandler({ temporal: h.client, taskQueue: h.taskQueue, logger: logger.child({ test: 'external-refund' }) });
    await api.receiveWebhooks();
  });
  afterAll(async () => {
    await api?.close();
  });

  const order = async (orderId: string) => (await h.db.select().from(schema.orders).where(eq(schema.orders.id, orderId)))[0]!;
  const ledger = (orderId: string) => h.db.select().from(schema.refunds).where(eq(schema.refunds.orderId, orderId));
  const chargeOf = async (checkoutId: string) => (await emulatorState(h, checkoutId))[0]!.latest_charge!;

  it('is reflected in the order, announced once, and counted by later refunds from the CLI', async () => {
    const { input } = await completedCheckout(h, { priceMinor: 1000, quantity: 2 });
    const stripeRefund = await refundExternally(h, await chargeOf(input.checkoutId), 700);

    const reflected = await eventually(async () => {
      const o = await order(input.orderId);
      return o.refundedMinor === 700 ? o : undefined;
    }, 'the external refund in the order');
    expect(reflected.status).toBe('PARTIALLY_REFUNDED');
    expect(await ledger(input.orderId)).toEqual([
      expect.objectContaining({ refundKey: externalRefundKey(stripeRefund.id), stripeRefundId: stripeRefund.id, source: 'stripe', status: 'SUCCEEDED', amountMinor: 700 }),
    ]);
    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'payment.refunded'));
    expect(events.find((e) => e.type === 'payment.refunded')).toMatchObject({
      id: refundEventId(externalRefundKey(stripeRefund.id)),
      data: { refundId: stripeRefund.id, amount: 700, totalRefunded: 700, orderAmount: 2000 },
    });

    // The CLI sees what is left after the dashboard refund.
    const over = await runCli(h, ['refund', input.orderId, '--amount', '1400']);
    expect(over.code).toBe(1);
    expect(reasonLine(over)).toMatch(/\(OVER_REFUND\): Refund of EUR 14\.00 exceeds the EUR 13\.00 left/);
    const rest = await runCli(h, ['refund', input.orderId]);
    expect(rest.code).toBe(0);
    expect(await order(input.orderId)).toMatchObject({ status: 'REFUNDED', refundedMinor: 2000 });

    // Our own refund's webhook found nothing new: one ledger row per Stripe refund, one event each.
    await eventually(async () => ((await emulatorEvents(h, { type: 'charge.refunded', paymentIntent: (await emulatorState(h, input.checkoutId))[0]!.id })).length === 2 ? true : undefined), 'both webhooks');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const rows = await ledger(input.orderId);
    expect(rows.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const refunded = (await h.events(input.orderId, (es) => es.filter((e) => e.type === 'payment.refunded').length >= 2)).filter((e) => e.type === 'payment.refunded');
    expect(new Set(refunded.map((e) => e.id)).size).toBe(2);
    const workflowId = externalRefundWorkflowId(
      (await emulatorEvents(h, { type: 'charge.refunded', paymentIntent: rows[0]!.paymentIntentId }))[0]!.id,
    );
    await recordHistory(h.client.workflow.getHandle(workflowId), 'external-refund-partial');
  });

  it('a redelivered or repeated webhook records nothing twice', async () => {
    const { input } = await completedCheckout(h, { priceMinor: 1500, quantity: 1 });
    const paymentIntentId = (await emulatorState(h, input.checkoutId))[0]!.id;
    await refundExternally(h, await chargeOf(input.checkoutId), 500);
    await eventually(async () => ((await order(input.orderId)).refundedMinor === 500 ? true : undefined), 'the reflection');

    // Stripe delivering the same event again (the API dedupes it too; this skips that guard on purpose).
    const [event] = await emulatorEvents(h, { type: 'charge.refunded', paymentIntent: paymentIntentId });
    expect(event).toMatchObject({ type: 'charge.refunded', data: { object: { payment_intent: paymentIntentId } } });
    await onChargeEvent!(event!);
    const reflection = await h.client.workflow.getHandle(externalRefundWorkflowId(event!.id)).describe();
    expect(reflection.status.name).toBe('COMPLETED');
    // A later, different event for the same payment: the known refund is skipped.
    const later = await h.client.workflow.execute(EXTERNAL_REFUND_WORKFLOW_TYPE, {
      taskQueue: h.taskQueue,
      workflowId: externalRefundWorkflowId(`evt_test_${randomUUID()}`),
      args: [{ stripeEventId: 'evt_test_later', paymentIntentId }],
    });
    expect(later as ExternalRefundResult).toEqual({ recorded: [] });

    expect(await order(input.orderId)).toMatchObject({ refundedMinor: 500, status: 'PARTIALLY_REFUNDED' });
    expect(await ledger(input.orderId)).toHaveLength(1);
  });

  it('a full dashboard refund the ledger has not seen yet: Stripe refuses ours, the reflection then settles the order', async () => {
    const { input, sku } = await completedCheckout(h, { priceMinor: 800, quantity: 2, stock: 5 });
    expect(await h.stock(sku)).toBe(3);
    const held = faults.hold('findUnrecordedRefunds');
    await refundExternally(h, await chargeOf(input.checkoutId));
    await held.reached;
    try {
      // The ledger still thinks 16.00 is refundable; Stripe knows better and nothing is refunded twice.
      const ours = await runCli(h, ['refund', input.orderId, '--amount', '300', '--reason', 'late']);
      expect(ours.code).toBe(1);
      expect(reasonLine(ours)).toMatch(/\(NOTHING_TO_REFUND\): Stripe: Charge \S+ has already been refunded/);
      expect((await ledger(input.orderId)).map((r) => r.status)).toEqual(['FAILED']);
    } finally {
      held.release();
    }
    await eventually(async () => ((await order(input.orderId)).status === 'REFUNDED' ? true : undefined), 'the reflection');
    expect(await order(input.orderId)).toMatchObject({ refundedMinor: 1600 });
    expect(await h.stock(sku)).toBe(5);
    expect((await emulatorState(h, input.checkoutId))[0]!.refunds.map((r) => r.amount)).toEqual([1600]);
  });

  it('a refund on a payment no confirmed order holds is not ours to reflect', async () => {
    // E.g. a cancelled checkout's own undo, or another integration on the same Stripe account.
    const result = await h.client.workflow.execute(EXTERNAL_REFUND_WORKFLOW_TYPE, {
      taskQueue: h.taskQueue,
      workflowId: externalRefundWorkflowId(`evt_test_${randomUUID()}`),
      args: [{ stripeEventId: 'evt_test_foreign', paymentIntentId: 'pi_not_ours' }],
    });
    expect(result as ExternalRefundResult).toEqual({ recorded: [], ignored: 'payment pi_not_ours belongs to no confirmed order' });
  });
});
