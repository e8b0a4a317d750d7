import type { Browser, Page } from 'playwright-core';
import { startTestApi, type TestApi } from '../api/support';
import { launchBrowser, screenshot } from './browser';

/** The API reference page, rendered by Swagger UI from this API's own files, under the app's CSP. */
describe('the API reference page (/docs) in a real browser', () => {
  let api: TestApi;
  let browser: Browser;
  let page: Page;
  /** What the browser refused or reported: CSP violations, failed loads, script errors. */
  const complaints: string[] = [];

  beforeAll(async () => {
    [api, browser] = await Promise.all([startTestApi(), launchBrowser()]);
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('console', (message) => {
      if (['error', 'warning'].includes(message.type())) complaints.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (err) => complaints.push(`script error: ${err.message}`));
    page.on('requestfailed', (request) => complaints.push(`failed to load ${request.url()}: ${request.failure()?.errorText ?? ''}`));
    page.on('request', (request) => {
      if (!request.url().startsWith(api.url) && !request.url().startsWith('data:')) complaints.push(`requested another origin: ${request.url()}`);
    });
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  it('lists every operation of the document, loading nothing from elsewhere and breaking no CSP rule', async () => {
    const res = await page.goto(`${api.url}/docs`);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");

    await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
    await page.getByText('checkout-saga', { exact: false }).first().waitFor();
    const document = (await (await fetch(`${api.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    const shown = await page.locator('.opblock-summary').evaluateAll((blocks) =>
      blocks.map((b) => `${b.querySelector('.opblock-summary-method')?.textContent ?? ''} ${b.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? ''}`),
    );
    await screenshot(page, 'api-reference');

    expect(shown.sort()).toEqual(operations.sort());
    expect(complaints).toEqual([]);
  });

  it('opens an operation with its parameters, answers and problem types', async () => {
    await page.locator('.opblock-post .opblock-summary-path[data-path="/api/checkouts"]').click();
    const operation = page.locator('#operations-checkouts-startCheckout');
    await operation.getByText('Idempotency-Key').first().waitFor();
    await operation.locator('.response[data-code="422"]').first().waitFor();
    await screenshot(page, 'api-reference-start-checkout');

    expect(await operation.locator('.responses-table .response').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-code')))).toEqual(['201', '202', '400', '413', '415', '422', '429', '503']);
    expect(await operation.textContent()).toContain('unknown-sku');
    expect(complaints).toEqual([]);
  });
});
