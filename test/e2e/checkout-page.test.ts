import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import * as schema from '../../db/schema';
import { startTestApi, type TestApi } from '../api/support';
import { launchBrowser, screenshot } from './browser';

describe('the checkout page in a real browser', () => {
  let api: TestApi;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    [api, browser] = await Promise.all([startTestApi(), launchBrowser()]);
    // 3-D Secure and processing payments settle through the emulator's signed webhooks.
    await api.receiveWebhooks();
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });
  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  async function fillCart(sku: string, card: string, email: string, name = 'Ada Lovelace') {
    await page.goto(api.url);
    const product = page.locator(`li.product[data-sku="${sku}"]`);
    await product.getByRole('button', { name: /add .* to cart/i }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel(/^Name/).fill(name);
    await page.locator(`input[name="paymentMethodId"][value="${card}"]`).check();
  }

  it('buys with a card that works and lands signed in on the account page', async () => {
    const sku = await api.h.seedProduct({ stock: 5, priceMinor: 2900, name: 'Team plan, one month' });
    // An address no other test uses: the fuzzer buys as the document's example buyer (ada@example.com),
    // and an existing account gets its sign-in link by email instead.
    const email = `ada.${randomUUID().slice(0, 8)}@example.com`;
    await fillCart(sku, 'pm_card_visa', email);
    await screenshot(page, 'checkout-filled');
    await page.getByRole('button', { name: /^Pay/ }).click();

    await page.waitForURL(`${api.url}/app`, { timeout: 60_000 });
    await page.getByRole('heading', { name: /Welcome, Ada Lovelace!/ }).waitFor();
    await screenshot(page, 'paid-and-signed-in');
    expect(await page.getByText(email).isVisible()).toBe(true);
    expect(await api.h.stock(sku)).toBe(4);
  });

  it('follows the checkout by its event stream, without polling', async () => {
    const requests: string[] = [];
    page.on('request', (req) => requests.push(new URL(req.url()).pathname + new URL(req.url()).search));
    const sku = await api.h.seedProduct({ stock: 2, priceMinor: 1900, name: 'Sketchbook' });
    await fillCart(sku, 'pm_card_visa', 'mary@example.com', 'Mary Somerville');
    await page.getByRole('button', { name: /^Pay/ }).click();

    await page.waitForURL(`${api.url}/app`, { timeout: 60_000 });
    const [stream] = requests.filter((r) => /^\/api\/checkouts\/[0-9a-f-]{36}\/events$/.test(r));
    expect(stream).toBeDefined();
    expect(requests.filter((r) => r.includes('waitForChangeMs'))).toEqual([]);
  });

  it('falls back to long-polling where the event stream cannot get through, and still finishes the order', async () => {
    await page.route('**/api/checkouts/*/events', (route) => route.fulfill({ status: 502, body: 'Bad Gateway' }));
    const polls: string[] = [];
    page.on('request', (req) => {
      if (req.url().includes('waitForChangeMs')) polls.push(req.url());
    });
    const sku = await api.h.seedProduct({ stock: 2, priceMinor: 1900, name: 'Fountain pen' });
    await fillCart(sku, 'pm_card_visa', 'emmy@example.com', 'Emmy Noether');
    await page.getByRole('button', { name: /^Pay/ }).click();

    await page.waitForURL(`${api.url}/app`, { timeout: 60_000 });
    expect(polls.length).toBeGreaterThan(0);
  });

  it('shows a declined card in plain words, offers a retry and leaves the stock as it was', async () => {
    const sku = await api.h.seedProduct({ stock: 2, priceMinor: 1500, name: 'Desk lamp' });
    await fillCart(sku, 'pm_card_chargeDeclined', 'grace@example.com', 'Grace Hopper');
    await page.getByRole('button', { name: /^Pay/ }).click();

    const alert = page.getByRole('alert').filter({ hasText: 'Your card was declined' });
    await alert.waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Try again' }).waitFor();
    await screenshot(page, 'declined-card');
    expect(await alert.textContent()).toContain('No money was taken');
    expect(await page.locator('li.step[data-step="capturePayment"]').getAttribute('data-state')).toBe('failed');
    expect(await page.locator('li.step[data-step="reserveStock"]').getAttribute('data-state')).toBe('undone');
    expect(await api.h.stock(sku)).toBe(2);

    await page.getByRole('button', { name: 'Try again' }).click();
    await page.getByRole('button', { name: /^Pay/ }).waitFor();
    expect(await page.getByLabel('Email').inputValue()).toBe('grace@example.com');
  });

  it('shows the 3-D Secure challenge, and after it is completed finishes the order and signs the buyer in', async () => {
    const sku = await api.h.seedProduct({ stock: 3, priceMinor: 4200, name: 'Noise-cancelling headphones' });
    await fillCart(sku, 'pm_card_authenticationRequired', 'alan@example.com', 'Alan Turing');
    await page.getByRole('button', { name: /^Pay/ }).click();

    await page.getByRole('heading', { name: 'Waiting for your bank' }).waitFor({ timeout: 60_000 });
    const challenge = page.frameLocator('iframe[title="3-D Secure verification"]');
    await challenge.getByRole('button', { name: 'Complete authentication' }).waitFor();
    await screenshot(page, '3ds-challenge');
    await challenge.getByRole('button', { name: 'Complete authentication' }).click();

    await page.waitForURL(`${api.url}/app`, { timeout: 60_000 });
    await page.getByRole('heading', { name: /Welcome, Alan Turing!/ }).waitFor();
    await screenshot(page, '3ds-completed-and-signed-in');
    expect(await api.h.stock(sku)).toBe(2);
  });

  it('tells a returning customer that the sign-in link went to their inbox, and does not sign them in here', async () => {
    const sku = await api.h.seedProduct({ stock: 5, priceMinor: 1200, name: 'Refill pack' });
    const email = `returning-${Date.now()}@example.com`;
    // The account exists from an earlier order.
    const earlier = await api.startCheckout(sku, { customer: { email, name: 'Rita Returning' } });
    await api.waitForStatus(String(earlier.body.checkoutId), (v) => v.status === 'COMPLETED');

    await fillCart(sku, 'pm_card_visa', email, 'Rita Returning');
    await page.getByRole('button', { name: /^Pay/ }).click();
    await page.getByRole('heading', { name: 'Thank you, your order is confirmed' }).waitFor({ timeout: 60_000 });
    const message = page.locator('#success-message');
    await message.getByText(/emailed .*sign-in link/i).waitFor();
    await screenshot(page, 'returning-customer-link-emailed');

    expect(await message.textContent()).toContain(email);
    expect(page.url()).toBe(`${api.url}/`);
    const me = await page.evaluate("fetch('/api/me').then((r) => r.status)");
    expect(me).toBe(401);
  });

  it('starts one checkout however often Pay is clicked', async () => {
    const sku = await api.h.seedProduct({ stock: 5, name: 'Coffee beans' });
    const email = 'double.click@example.com';
    await fillCart(sku, 'pm_card_visa', email);
    await page.getByRole('button', { name: /^Pay/ }).dblclick();

    await page.waitForURL(`${api.url}/app`, { timeout: 60_000 });
    const rows = await api.h.db.select().from(schema.checkouts).where(eq(schema.checkouts.customerEmail, email));
    expect(rows).toHaveLength(1);
    expect(await api.h.stock(sku)).toBe(4);
  });

  it('fits a phone screen: catalog, cart and Pay stacked in one column', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      const mobile = await phone.newPage();
      const sku = await api.h.seedProduct({ stock: 2, priceMinor: 899, name: 'Phone case' });
      await mobile.goto(api.url);
      await mobile.locator(`li.product[data-sku="${sku}"]`).getByRole('button', { name: /add .* to cart/i }).click();
      await mobile.getByLabel('Email').fill('mobile@example.com');
      await screenshot(mobile, 'phone-checkout');

      // A string: this file compiles without the DOM lib, the expression runs in the page.
      const overflow = (await mobile.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
      expect(overflow).toBeLessThanOrEqual(0);
      expect(await mobile.locator(`li.product[data-sku="${sku}"] .stock`).textContent()).toBe('Only 2 left');
      expect(await mobile.getByRole('button', { name: /^Pay/ }).textContent()).toMatch(/Pay .*8\.99/);
    } finally {
      await phone.close();
    }
  });

  it('explains a used sign-in link on a friendly page instead of an error', async () => {
    const sku = await api.h.seedProduct();
    const started = await api.startCheckout(sku);
    const view = await api.waitForStatus(String(started.body.checkoutId), (v) => v.status === 'COMPLETED' && v.sso !== undefined);
    await fetch(view.sso!.redirectUrl, { redirect: 'manual' });

    const res = await page.goto(view.sso!.redirectUrl);
    expect(res?.status()).toBe(401);
    await page.getByRole('heading', { name: 'This sign-in link has expired' }).waitFor();
    await screenshot(page, 'sign-in-link-expired');
    await page.getByRole('link', { name: 'Back to the shop' }).click();
    await page.getByRole('heading', { name: 'Products' }).waitFor();
  });
});
