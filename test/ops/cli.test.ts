import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import type { CheckoutState } from '../../src/workflows/checkout/contract';
import { customerEmailHash } from '../../src/temporal/customer-email-hash';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { completedCheckout, emulatorState, eventually, json, reasonLine, runCli } from './support';

/** status, list and cancel as an operator runs them: the npm bin in its own process, against the real stack. */
describe('checkout-saga status, list and cancel', () => {
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  describe('status', () => {
    it('shows a completed checkout: status, money with currency, order, payment and where to look in the Web UI', async () => {
      const { input } = await completedCheckout(h, { priceMinor: 1250, quantity: 2 });

      const run = await runCli(h, ['status', input.checkoutId]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^Checkout\\s+${input.checkoutId}$`, 'm'));
      expect(run.stdout).toMatch(/^Status\s+COMPLETED \(step confirmOrder\)$/m);
      expect(run.stdout).toMatch(new RegExp(`^Customer\\s+${input.customer.email}$`, 'm'));
      expect(run.stdout).toMatch(/^Amount\s+EUR 25\.00$/m);
      expect(run.stdout).toMatch(/^Payment\s+succeeded\s+pi_\w+$/m);
      expect(run.stdout).toMatch(new RegExp(`^Order\\s+${input.orderId}\\s+CONFIRMED$`, 'm'));
      expect(run.stdout).toContain(`${h.config.TEMPORAL_UI_URL}/namespaces/default/workflows/checkout-${input.checkoutId}/`);
      // Values start in one column.
      const columns = run.stdout.split('\n').filter((l) => /^\S/.test(l)).map((l) => l.search(/(?<=\S\s{2,})\S/));
      expect(new Set(columns).size).toBe(1);
    });

    it('answers --json with the workflow state, and takes the Web UI workflow id too', async () => {
      const { input } = await completedCheckout(h);
      const run = await runCli(h, ['status', `checkout-${input.checkoutId}`, '--json']);
      expect(run.code).toBe(0);
      const body = json<{ ok: boolean; source: string; checkout: CheckoutState; order: { status: string } }>(run);
      expect(body).toMatchObject({ ok: true, source: 'query', checkout: { checkoutId: input.checkoutId, status: 'COMPLETED' }, order: { status: 'CONFIRMED' } });

      // The order id finds its checkout as well.
      const byOrder = await runCli(h, ['status', input.orderId, '--json']);
      expect(byOrder.code).toBe(0);
      expect(json<{ checkout: CheckoutState }>(byOrder).checkout.checkoutId).toBe(input.checkoutId);
    });

    it('exits 1 with one line for an unknown checkout', async () => {
      const id = randomUUID();
      const run = await runCli(h, ['status', id]);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(reasonLine(run)).toBe(`error: unknown checkout ${id}`);
      const asJson = await runCli(h, ['status', id, '--json']);
      expect(asJson.code).toBe(1);
      expect(json(asJson)).toEqual({ ok: false, error: { code: 'UNKNOWN_CHECKOUT', message: `unknown checkout ${id}` } });
    });
  });

  describe('list', () => {
    const email = `ops-list-${randomUUID().slice(0, 8)}@example.com`;
    const completed: string[] = [];
    let failed: string;

    beforeAll(async () => {
      for (let i = 0; i < 2; i++) completed.push((await completedCheckout(h, { email, priceMinor: 1000 + i, quantity: 1 })).input.checkoutId);
      const sku = await h.seedProduct({ stock: 5 });
      const declined = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_chargeDeclined', customer: { email } });
      expect((await h.result(declined.input.checkoutId)).status).toBe('FAILED');
      failed = declined.input.checkoutId;
      // Visibility is eventually consistent: wait until all three show their final status.
      await eventually(async () => {
        const run = await runCli(h, ['list', '--email', email, '--json']);
        const rows = json<{ checkouts: { status: string }[] }>(run).checkouts;
        return rows.length === 3 && rows.every((r) => ['COMPLETED', 'FAILED'].includes(r.status)) ? true : undefined;
      }, 'the three checkouts in visibility');
    });

    it('filters by status and email, with the same query the Web UI would run', async () => {
      const run = await runCli(h, ['list', '--status', 'COMPLETED', '--email', email, '--json']);
      expect(run.code).toBe(0);
      const body = json<{ query: string; count: number; checkouts: { checkoutId: string; status: string; customerEmail: string; amount: number; currency: string }[] }>(run);
      expect(body.query).toBe(`WorkflowType = "CheckoutWorkflow" AND CheckoutStatus = "COMPLETED" AND CustomerEmail = "${customerEmailHash(h.config, email)}"`);
      expect(body.checkouts.map((c) => c.checkoutId).sort()).toEqual([...completed].sort());
      expect(body.checkouts.every((c) => c.status === 'COMPLETED' && c.customerEmail === email && c.currency === 'EUR')).toBe(true);

      const onlyFailed = json<{ checkouts: { checkoutId: string }[] }>(await runCli(h, ['list', '--status', 'failed', '--email', email, '--json']));
      expect(onlyFailed.checkouts.map((c) => c.checkoutId)).toEqual([failed]);
    });

    it('prints an aligned table with totals in their currency, and honours --limit', async () => {
      const run = await runCli(h, ['list', '--email', email]);
      expect(run.code).toBe(0);
      const lines = run.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^CHECKOUT\s+STATUS\s+STEP\s+CUSTOMER\s+TOTAL\s+STARTED$/);
      const statusColumn = lines[0]!.indexOf('STATUS');
      for (const id of [...completed, failed]) {
        const row = lines.find((l) => l.startsWith(id));
        expect(row).toBeDefined();
        expect(row!.slice(statusColumn)).toMatch(/^(COMPLETED|FAILED)\s/);
      }
      expect(run.stdout).toMatch(/EUR 10\.00/);
      expect(run.stdout).toMatch(/EUR 10\.01/);
      expect(lines.at(-1)).toBe('3 checkouts');

      const limited = await runCli(h, ['list', '--email', email, '--limit', '1']);
      expect(limited.code).toBe(0);
      expect(limited.stdout.trimEnd().split('\n').at(-1)).toBe('1 checkout (the newest 1; --limit shows more)');
    });

    it('says so when nothing matches, and exits 0', async () => {
      const run = await runCli(h, ['list', '--status', 'NEEDS_ATTENTION', '--email', email]);
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe(`No checkouts match WorkflowType = "CheckoutWorkflow" AND CheckoutStatus = "NEEDS_ATTENTION" AND CustomerEmail = "${customerEmailHash(h.config, email)}"`);
    });
  });

  describe('cancel', () => {
    it('cancels a checkout waiting for 3-D Secure: compensations run, the intent is cancelled, the stock is back', async () => {
      const sku = await h.seedProduct({ stock: 4 });
      const { input } = await h.startCheckout({ items: [{ sku, quantity: 2 }], paymentMethodId: 'pm_card_authenticationRequired' });
      await h.waitForStatus(input.checkoutId, (s) => s.status === 'REQUIRES_ACTION');
      expect(await h.stock(sku)).toBe(2);

      const run = await runCli(h, ['cancel', input.checkoutId, '--reason', 'customer called']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Status\s+CANCELLED/m);
      expect(run.stdout).toMatch(/^Failure\s+CANCELLED: customer called$/m);
      expect(run.stdout).toMatch(/refundPayment\s+done\s+payment intent cancelled before capture/);
      expect(run.stdout).toMatch(/releaseStock\s+done\s+released 2 x /);
      expect(run.stdout).toMatch(new RegExp(`^Order\\s+${input.orderId}\\s+CANCELLED$`, 'm'));

      expect(await h.stock(sku)).toBe(4);
      expect((await emulatorState(h, input.checkoutId))[0]!.status).toBe('canceled');
      const [row] = await h.db.select().from(schema.orders).where(eq(schema.orders.id, input.orderId));
      expect(row!.status).toBe('CANCELLED');
    });

    it('is refused for a completed checkout, pointing at refund', async () => {
      const { input } = await completedCheckout(h);
      const run = await runCli(h, ['cancel', input.checkoutId]);
      expect(run.code).toBe(1);
      expect(reasonLine(run)).toBe(`error: checkout ${input.checkoutId} has already finished (COMPLETED) and can no longer be cancelled; use \`refund\` instead`);
    });

    it('exits 1 for an unknown checkout', async () => {
      const id = randomUUID();
      const run = await runCli(h, ['cancel', id, '--json']);
      expect(run.code).toBe(1);
      expect(json(run)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHECKOUT' } });
    });
  });

  describe('usage', () => {
    it.each([
      [['status']],
      [['list', '--limit', '0']],
      [['list', '--limit', 'many']],
      [['list', '--status', 'DONE']],
      [['list', '--email', 'x"; drop']],
      [['cancel']],
      [['cancel', randomUUID(), '--timeout', '-1']],
      [['retry-compensation']],
      [['refnud', randomUUID()]],
      [['status', randomUUID(), '--verbose']],
      [[]],
    ])('%j exits 2 with the problem on stderr', async (args) => {
      const run = await runCli(h, args);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/error:|Usage:/);
    });

    it('--help lists every command with examples and the exit codes, exit 0', async () => {
      const run = await runCli(h, ['--help']);
      expect(run.code).toBe(0);
      for (const command of ['status', 'list', 'cancel', 'refund', 'retry-compensation']) expect(run.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
      expect(run.stdout).toContain('Exit codes: 0 done, 1 refused or failed (one-line reason on stderr), 2 usage error.');
      expect(run.stdout).toContain('Examples:');
      const sub = await runCli(h, ['list', '--help']);
      expect(sub.code).toBe(0);
      expect(sub.stdout).toContain('$ checkout-saga list --status NEEDS_ATTENTION');
    });
  });
});
