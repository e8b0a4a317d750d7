import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { launchBrowser, screenshot } from '../e2e/browser';
import { customerEmailHash } from '../../src/temporal/customer-email-hash';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { completedCheckout, eventually } from './support';

interface UiExecution {
  execution: { workflowId: string };
  type: { name: string };
  searchAttributes?: { indexedFields?: Record<string, { data?: string }> };
}

/**
 * What ops see: the Temporal Web UI filtering checkouts by the search attributes the saga keeps
 * current. The UI's server proxies Temporal's HTTP API under /api/v1; its workflow list calls
 * `GET /api/v1/namespaces/<ns>/workflows?query=...`, the request asserted here.
 */
describe('Temporal Web UI', () => {
  let h: SagaHarness;
  let browser: Browser | undefined;
  const email = `ops-ui-${randomUUID().slice(0, 8)}@example.com`;
  /** What an operator types for the email: visibility holds only its keyed hash (`list --email --json` prints it). */
  let emailHash: string;
  let completedId: string;
  let failedId: string;

  beforeAll(async () => {
    h = await startSagaHarness();
    emailHash = customerEmailHash(h.config, email);
    completedId = (await completedCheckout(h, { email, priceMinor: 4200, quantity: 1 })).input.checkoutId;
    const sku = await h.seedProduct({ stock: 2 });
    const declined = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_chargeDeclined', customer: { email } });
    expect((await h.result(declined.input.checkoutId)).status).toBe('FAILED');
    failedId = declined.input.checkoutId;
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  /** The UI server's list endpoint, as the UI's own list page calls it. */
  async function uiList(query: string): Promise<UiExecution[]> {
    const url = `${h.config.TEMPORAL_UI_URL}/api/v1/namespaces/${h.config.TEMPORAL_NAMESPACE}/workflows?query=${encodeURIComponent(query)}`;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    return ((await res.json()) as { executions?: UiExecution[] }).executions ?? [];
  }

  const decode = (field: { data?: string } | undefined): unknown => (field?.data ? JSON.parse(Buffer.from(field.data, 'base64').toString('utf8')) : undefined);

  it("filters checkouts by CheckoutStatus, CustomerEmail, CheckoutStep and OrderTotal through the UI's HTTP API", async () => {
    const byEmail = `WorkflowType = "CheckoutWorkflow" AND CustomerEmail = "${emailHash}"`;
    const completed = await eventually(async () => {
      const found = await uiList(`${byEmail} AND CheckoutStatus = "COMPLETED"`);
      return found.length === 1 ? found : undefined;
    }, 'the completed checkout in the UI list');
    expect(completed[0]!.execution.workflowId).toBe(`checkout-${completedId}`);
    const fields = completed[0]!.searchAttributes?.indexedFields ?? {};
    expect({
      CheckoutStatus: decode(fields.CheckoutStatus),
      CheckoutStep: decode(fields.CheckoutStep),
      CustomerEmail: decode(fields.CustomerEmail),
      OrderTotal: decode(fields.OrderTotal),
    }).toEqual({ CheckoutStatus: 'COMPLETED', CheckoutStep: 'confirmOrder', CustomerEmail: emailHash, OrderTotal: 4200 });

    const failed = await eventually(async () => {
      const found = await uiList(`${byEmail} AND CheckoutStatus = "FAILED"`);
      return found.length === 1 ? found : undefined;
    }, 'the failed checkout in the UI list');
    expect(failed[0]!.execution.workflowId).toBe(`checkout-${failedId}`);

    expect((await uiList(`${byEmail} AND CheckoutStep = "confirmOrder"`)).map((e) => e.execution.workflowId)).toEqual([`checkout-${completedId}`]);
    expect((await uiList(`${byEmail} AND OrderTotal >= 4200`)).map((e) => e.execution.workflowId)).toEqual([`checkout-${completedId}`]);
    expect(await uiList(`${byEmail} AND CheckoutStatus = "NEEDS_ATTENTION"`)).toEqual([]);
  });

  it('shows the list filtered by CheckoutStatus="COMPLETED" (screenshot in test/artifacts)', async () => {
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const query = `CheckoutStatus="COMPLETED" AND CustomerEmail="${emailHash}"`;
    await page.goto(`${h.config.TEMPORAL_UI_URL}/namespaces/${h.config.TEMPORAL_NAMESPACE}/workflows?query=${encodeURIComponent(query)}`);
    await page.getByText(`checkout-${completedId}`).first().waitFor({ timeout: 30_000 });
    expect(await page.getByText(`checkout-${failedId}`).count()).toBe(0);

    // The same page as an operator types just the status filter: every completed checkout.
    await page.goto(`${h.config.TEMPORAL_UI_URL}/namespaces/${h.config.TEMPORAL_NAMESPACE}/workflows?query=${encodeURIComponent('CheckoutStatus="COMPLETED"')}`);
    await page.getByText(`checkout-${completedId}`).first().waitFor({ timeout: 30_000 });
    const file = await screenshot(page, 'web-ui-checkouts-completed');
    expect(existsSync(file)).toBe(true);
  });
});
