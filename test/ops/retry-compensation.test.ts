import { randomUUID } from 'node:crypto';
import type { CheckoutState } from '../../src/workflows/checkout/contract';
import { StepFaults } from '../support/faults';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { completedCheckout, eventually, json, reasonLine, runCli } from './support';

/**
 * A compensation that keeps failing parks the checkout in NEEDS_ATTENTION; the operator finds it
 * with `list`, reads why with `status`, fixes the cause and finishes it with `retry-compensation`.
 * The fault is injected through the worker's own interceptor API, as a real outage would look.
 */
describe('checkout-saga retry-compensation', () => {
  const faults = new StepFaults();
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness({ interceptors: faults.interceptors() });
  });
  afterAll(async () => {
    faults.clear();
    await h?.close();
  });

  it('finishes a NEEDS_ATTENTION checkout once the fault is gone, and not before', async () => {
    const email = `ops-attention-${randomUUID().slice(0, 8)}@example.com`;
    const sku = await h.seedProduct({ stock: 6 });
    faults.failUntilCleared('releaseStock');
    const { input } = await h.startCheckout({
      items: [{ sku, quantity: 2 }],
      paymentMethodId: 'pm_card_chargeDeclined',
      customer: { email },
      // Short, so the undo gives up and asks for an operator within the test.
      compensationRetryWindowMs: 1_500,
    });
    await h.waitForStatus(input.checkoutId, (s) => s.status === 'NEEDS_ATTENTION');
    expect(await h.stock(sku)).toBe(4);

    // Ops find it by status, as in the Web UI.
    const listed = await eventually(async () => {
      const run = await runCli(h, ['list', '--status', 'NEEDS_ATTENTION', '--email', email, '--json']);
      const rows = json<{ checkouts: { checkoutId: string }[] }>(run).checkouts;
      return rows.length === 1 ? rows : undefined;
    }, 'the checkout in visibility as NEEDS_ATTENTION');
    expect(listed[0]!.checkoutId).toBe(input.checkoutId);

    const status = await runCli(h, ['status', input.checkoutId]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^Status\s+NEEDS_ATTENTION/m);
    expect(status.stdout).toMatch(/releaseStock\s+failed\s+\S/);
    expect(status.stdout).toMatch(/refundPayment\s+done/);

    // Retried while the fault is still there: still failing, said in one line, exit 1.
    const tooEarly = await runCli(h, ['retry-compensation', input.checkoutId]);
    expect(tooEarly.code).toBe(1);
    expect(reasonLine(tooEarly)).toMatch(new RegExp(`^error: compensation still failing: releaseStock \\(.+\\); checkout ${input.checkoutId} stays in NEEDS_ATTENTION$`));
    expect(await h.stock(sku)).toBe(4);

    faults.clear('releaseStock');
    const run = await runCli(h, ['retry-compensation', input.checkoutId]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Compensations finished: checkout ${input.checkoutId} is FAILED.`);
    expect(run.stdout).toMatch(/releaseStock\s+done\s+released 2 x /);
    expect(await h.stock(sku)).toBe(6);
    expect((await h.result(input.checkoutId)).status).toBe('FAILED');

    const after = await runCli(h, ['retry-compensation', input.checkoutId, '--json']);
    expect(after.code).toBe(1);
    expect(json(after)).toMatchObject({ ok: false, error: { code: 'ALREADY_FINISHED' } });
  });

  it('--json reports the final state', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    faults.failUntilCleared('releaseStock');
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_chargeDeclined', compensationRetryWindowMs: 1_500 });
    await h.waitForStatus(input.checkoutId, (s) => s.status === 'NEEDS_ATTENTION');
    faults.clear('releaseStock');

    const run = await runCli(h, ['retry-compensation', input.checkoutId, '--json']);
    expect(run.code).toBe(0);
    const body = json<{ ok: boolean; checkout: CheckoutState }>(run);
    expect(body.ok).toBe(true);
    expect(body.checkout.status).toBe('FAILED');
    expect(body.checkout.compensations.every((c) => c.status === 'done')).toBe(true);
  });

  it('is refused for a checkout that is not in NEEDS_ATTENTION', async () => {
    const sku = await h.seedProduct({ stock: 3 });
    const waiting = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_authenticationRequired' });
    await h.waitForStatus(waiting.input.checkoutId, (s) => s.status === 'REQUIRES_ACTION');
    try {
      const running = await runCli(h, ['retry-compensation', waiting.input.checkoutId]);
      expect(running.code).toBe(1);
      expect(reasonLine(running)).toBe('error: retry refused: The checkout is REQUIRES_ACTION, not NEEDS_ATTENTION');
    } finally {
      await runCli(h, ['cancel', waiting.input.checkoutId]);
    }

    const { input } = await completedCheckout(h);
    const completed = await runCli(h, ['retry-compensation', input.checkoutId]);
    expect(completed.code).toBe(1);
    expect(reasonLine(completed)).toBe(`error: checkout ${input.checkoutId} has already finished (COMPLETED); there is nothing to retry`);

    const unknown = await runCli(h, ['retry-compensation', randomUUID()]);
    expect(unknown.code).toBe(1);
    expect(reasonLine(unknown)).toMatch(/^error: unknown checkout /);
  });
});
