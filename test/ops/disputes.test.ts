import { eq } from 'drizzle-orm';
import type Stripe from 'stripe';
import * as schema from '../../db/schema';
import { createChargeEventHandler } from '../../src/application/refunds/charge-events';
import { logger } from '../../src/logger';
import { disputeWorkflowId } from '../../src/workflows/dispute/contract';
import { startTestApi, type TestApi } from '../api/support';
import type { SagaHarness } from '../support/harness';
import { recordHistory } from '../support/histories';
import { completedCheckout, emulatorState, eventually, reasonLine, runCli } from './support';

/**
 * A buyer's bank disputes a payment: Stripe sends signed `charge.dispute.*` webhooks, the API hands
 * them to the dispute's workflow, and the order shows it, refunds wait for the decision, and a lost
 * dispute counts as money returned.
 */
describe('a disputed payment', () => {
  let api: TestApi;
  let h: SagaHarness;
  let onChargeEvent: ((event: Stripe.Event) => Promise<void>) | undefined;

  beforeAll(async () => {
    api = await startTestApi({ deps: { onChargeEvent: (event) => onChargeEvent!(event) } });
    h = api.h;
    onChargeEvent = createChargeEventHandler({ temporal: h.client, taskQueue: h.taskQueue, logger: logger.child({ test: 'disputes' }) });
    await api.receiveWebhooks();
  });
  afterAll(async () => {
    await api?.close();
  });

  const order = async (orderId: string) => (await h.db.select().from(schema.orders).where(eq(schema.orders.id, orderId)))[0]!;
  const chargeOf = async (checkoutId: string) => (await emulatorState(h, checkoutId))[0]!.latest_charge!;
  const orderStatusIs = (orderId: string, status: string) =>
    eventually(async () => {
      const o = await order(orderId);
      return o.status === status ? o : undefined;
    }, `order ${orderId} ${status}`);

  it('shows the order DISPUTED with its amount, reason and evidence deadline; refunds wait; lost, it counts as returned', async () => {
    const { input } = await completedCheckout(h, { priceMinor: 2500, quantity: 1 });
    const dispute = await h.emulator.openDispute(await chargeOf(input.checkoutId), { reason: 'fraudulent' });

    await orderStatusIs(input.orderId, 'DISPUTED');
    const status = await runCli(h, ['status', input.checkoutId]);
    expect(status.stdout).toMatch(new RegExp(`DISPUTED\\n\\s+dispute ${dispute.id}: EUR 25\\.00 \\(fraudulent\\) needs_response, evidence due `));
    const refused = await runCli(h, ['refund', input.orderId, '--amount', '500']);
    expect(refused.code).toBe(1);
    expect(reasonLine(refused)).toMatch(/ORDER_NOT_REFUNDABLE.*open dispute/);

    await h.emulator.closeDispute(dispute.id, 'lost');
    const decided = await orderStatusIs(input.orderId, 'REFUNDED');
    expect(decided).toMatchObject({ disputeLostMinor: 2500, refundedMinor: 0 });
    await recordHistory(h.client.workflow.getHandle(disputeWorkflowId(dispute.id)), 'dispute-lost');
    const after = await runCli(h, ['refund', input.orderId]);
    expect(after.code).toBe(1);
    expect(reasonLine(after)).toMatch(/NOTHING_TO_REFUND/);

    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'payment.dispute_closed'));
    const confirmed = events.find((e) => e.type === 'order.confirmed')!;
    const disputed = events.filter((e) => e.type === 'payment.disputed');
    const closed = events.filter((e) => e.type === 'payment.dispute_closed');
    expect(disputed).toHaveLength(1);
    expect(closed).toHaveLength(1);
    expect(disputed[0]!.data).toMatchObject({ disputeId: dispute.id, amount: 2500, reason: 'fraudulent', sequence: confirmed.data.sequence + 1, evidenceDueBy: expect.any(String) });
    expect(closed[0]!.data).toMatchObject({ disputeId: dispute.id, outcome: 'lost', totalReturned: 2500, orderAmount: 2500, sequence: confirmed.data.sequence + 2 });
  });

  it('lost in part, the charge is closed to refunds as Stripe closes it; won, the order is refundable as before', async () => {
    const { input } = await completedCheckout(h, { priceMinor: 1000, quantity: 3 });
    const partial = await h.emulator.openDispute(await chargeOf(input.checkoutId), { reason: 'product_not_received', amount: 1000 });
    await orderStatusIs(input.orderId, 'DISPUTED');
    await h.emulator.closeDispute(partial.id, 'lost');
    await orderStatusIs(input.orderId, 'PARTIALLY_REFUNDED');

    const refused = await runCli(h, ['refund', input.orderId, '--amount', '500']);
    expect(refused.code).toBe(1);
    expect(reasonLine(refused)).toMatch(/ORDER_NOT_REFUNDABLE.*lost a dispute \(EUR 10\.00 charged back\)/);
    expect(await order(input.orderId)).toMatchObject({ status: 'PARTIALLY_REFUNDED', disputeLostMinor: 1000, refundedMinor: 0 });

    const won = await completedCheckout(h, { priceMinor: 1500, quantity: 1 });
    const second = await h.emulator.openDispute(await chargeOf(won.input.checkoutId), { reason: 'duplicate' });
    await orderStatusIs(won.input.orderId, 'DISPUTED');
    await h.emulator.closeDispute(second.id, 'won');
    expect(await orderStatusIs(won.input.orderId, 'CONFIRMED')).toMatchObject({ disputeLostMinor: 0 });
    const refund = await runCli(h, ['refund', won.input.orderId, '--amount', '500']);
    expect(refund.code).toBe(0);
  });
});
