import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { SignJWT } from 'jose';
import { Registry } from 'prom-client';
import type { Browser } from 'playwright-core';
import { createReadinessChecker, kafkaProbe } from '../../src/api/readiness';
import { ALL_CONSUMER_GROUPS, CONSUMER_GROUPS } from '../../src/kafka/consumer/groups';
import { consumerGroupsProbe, registerConsumerMetrics } from '../../src/kafka/consumer/monitoring';
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER } from '../../src/application/sign-in/access-token';
import { startTestApi, type StatusView, type TestApi } from '../api/support';
import { launchBrowser } from '../e2e/browser';
import { requireStackVar } from '../support/stack-env';
import { completedOrderStory, eventually, inbox, publishAll, startConsumerTestBed, type ConsumerTestBed } from './support';

const ROOT = path.resolve(__dirname, '../..');

interface OrdersBody {
  orders: Array<{ orderId: string; status: string; amount: number | null; currency: string | null; lines: Array<{ sku: string; name: string | null; quantity: number }>; statusHistory: Array<{ status: string }> }>;
}

/** Prometheus text -> value of one sample, e.g. sample(text, 'x_total{group="a",partition="0"}'). */
function samples(text: string, name: string): Array<{ labels: string; value: number }> {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .map((l) => ({ labels: l.slice(name.length, l.lastIndexOf(' ')), value: Number(l.slice(l.lastIndexOf(' ') + 1)) }));
}

describe('the API over the downstream consumers: /api/me/orders, /metrics, /readyz and the account page', () => {
  let bed: ConsumerTestBed;
  let api: TestApi;
  let admins: Admin[];
  beforeAll(async () => {
    bed = await startConsumerTestBed('api');
    // As src/api/main.ts builds it.
    const kafka = new Kafka({ clientId: 'consumers-api-test', brokers: bed.config.KAFKA_BROKERS, logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 } });
    admins = [kafka.admin(), kafka.admin(), kafka.admin()];
    const metrics = new Registry();
    registerConsumerMetrics(metrics, admins[0]!, { topic: bed.config.KAFKA_TOPIC, dlqTopic: bed.config.KAFKA_DLQ_TOPIC, groups: ALL_CONSUMER_GROUPS });
    api = await startTestApi({
      harness: { env: bed.env },
      deps: {
        metrics,
        readiness: createReadinessChecker({ kafka: kafkaProbe(admins[1]!) }, { advisory: { consumers: consumerGroupsProbe(admins[2]!, ALL_CONSUMER_GROUPS) } }),
      },
    });
  });
  afterAll(async () => {
    await api?.close();
    for (const a of admins ?? []) await a.disconnect().catch(() => undefined);
    await bed?.close();
  });

  /** A checkout completed through the API and its login redeemed: the buyer's access token. */
  async function buyAndSignIn(email: string): Promise<{ checkoutId: string; orderId: string; accessToken: string }> {
    const sku = await api.h.seedProduct({ priceMinor: 2450, name: 'Notebook' });
    const started = await api.startCheckout(sku, { customer: { email, name: 'Ada Buyer' }, items: [{ sku, quantity: 2 }] });
    expect(started.status).toBe(202);
    const view: StatusView = await api.waitForStatus(String(started.body.checkoutId), (v) => v.status === 'COMPLETED' && v.sso !== undefined);
    const token = new URL(view.sso!.redirectUrl).searchParams.get('token');
    const login = await api.request<{ accessToken: string }>('POST', '/api/sso/redeem', { json: { token } });
    expect(login.status).toBe(200);
    return { checkoutId: view.checkoutId, orderId: view.orderId, accessToken: login.body.accessToken };
  }

  describe('GET /api/me/orders', () => {
    let buyer: { email: string; orderId: string; accessToken: string };
    beforeAll(async () => {
      const email = `me-orders-${Date.now()}@example.com`;
      // No projector yet: the saga has finished, the read model does not know the order.
      buyer = { email, ...(await buyAndSignIn(email)) };
    });

    it('answers 401 without a token', async () => {
      const res = await api.request('GET', '/api/me/orders');
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    });

    it('answers 401 to a forged token (right claims, wrong key) and to a valid token whose email was changed', async () => {
      const forged = await new SignJWT({ email: buyer.email })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject('00000000-0000-4000-8000-000000000000')
        .setIssuer(ACCESS_TOKEN_ISSUER)
        .setAudience(ACCESS_TOKEN_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode('a-guess-at-the-secret-that-is-long-enough'));
      expect((await api.request('GET', '/api/me/orders', { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);

      const [header, payload, signature] = buyer.accessToken.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, email: 'someone-else@example.com' })).toString('base64url')}.${signature}`;
      expect((await api.request('GET', '/api/me/orders', { headers: { authorization: `Bearer ${tampered}` } })).status).toBe(401);
    });

    it('with the token from a real SSO redeem, lists the buyer’s orders from the read model only', async () => {
      const auth = { authorization: `Bearer ${buyer.accessToken}` };
      const before = await api.request<OrdersBody>('GET', '/api/me/orders', { headers: auth });
      expect(before.status).toBe(200);
      expect(before.headers.get('cache-control')).toBe('no-store');
      // The order is CONFIRMED in the saga's tables, but nothing has projected it: not shown.
      expect(before.body.orders).toEqual([]);

      await bed.startProjector();
      const after = await eventually(async () => {
        const res = await api.request<OrdersBody>('GET', '/api/me/orders', { headers: auth });
        expect(res.body.orders.map((o) => o.status)).toEqual(['CONFIRMED']);
        return res.body;
      });
      expect(after.orders[0]).toMatchObject({
        orderId: buyer.orderId,
        amount: 4900,
        currency: 'EUR',
        lines: [expect.objectContaining({ name: 'Notebook', quantity: 2, unitPrice: 2450, lineTotal: 4900 })],
        statusHistory: [expect.objectContaining({ status: 'PENDING' }), expect.objectContaining({ status: 'PAID' }), expect.objectContaining({ status: 'CONFIRMED' })],
        disputes: [],
      });
    });

    it('shows a buyer only their own orders', async () => {
      const other = await buyAndSignIn(`other-${Date.now()}@example.com`);
      const mine = await eventually(async () => {
        const res = await api.request<OrdersBody>('GET', '/api/me/orders', { headers: { authorization: `Bearer ${other.accessToken}` } });
        expect(res.body.orders).toHaveLength(1);
        return res.body.orders;
      });
      expect(mine[0]!.orderId).toBe(other.orderId);
      expect(mine[0]!.orderId).not.toBe(buyer.orderId);
    });
  });

  describe('the account page after a purchase on the checkout page', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchBrowser();
      await bed.startNotifier();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('shows the buyer the order in their history, and one receipt is in the mail catcher', async () => {
      const sku = await api.h.seedProduct({ stock: 3, priceMinor: 3100, name: 'Walnut desk tray' });
      const email = `page-${Date.now()}@example.com`;
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(api.url);
        await page.locator(`li.product[data-sku="${sku}"]`).getByRole('button', { name: /add .* to cart/i }).click();
        await page.getByLabel('Email').fill(email);
        await page.getByLabel(/^Name/).fill('Ada Lovelace');
        await page.locator('input[name="paymentMethodId"][value="pm_card_visa"]').check();
        await page.getByRole('button', { name: /^Pay/ }).click();
        await page.waitForURL(`${api.url}/app`, { timeout: 60_000 });

        const order = page.locator('#order-list li.order');
        await order.first().waitFor({ timeout: 30_000 });
        await page.locator('#order-list .status-badge[data-status="CONFIRMED"]').waitFor({ timeout: 30_000 });
        expect(await order.count()).toBe(1);
        const text = await order.first().innerText();
        expect(text).toContain('1 × Walnut desk tray');
        expect(text).toContain('€31.00');
        expect(text).toContain('Confirmed');
      } finally {
        await context.close();
      }
      const receipts = await eventually(async () => {
        const mails = await inbox(requireStackVar('MAIL_INBOX_URL'), email);
        expect(mails).toHaveLength(1);
        return mails;
      });
      expect(receipts[0]!.subject).toContain('€31.00');
    });
  });

  describe('/metrics and /readyz with the consumers process (src/workers/consumers-main.ts, the real group names)', () => {
    let child: ChildProcess | undefined;
    afterAll(async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    });

    const metricsText = () => api.scrapeMetrics();
    const lagOf = (text: string, group: string) => samples(text, 'checkout_events_consumer_lag').filter((s) => s.labels.includes(`group="${group}"`));

    it('exports lag per group and partition, and the DLQ size; readiness reports the consumers without failing the API for them', async () => {
      await publishAll(bed.publisher, completedOrderStory().events);
      const total = (await bed.admin.fetchTopicOffsets(bed.config.KAFKA_TOPIC)).reduce((n, p) => n + Number(p.high), 0);

      // Not running yet: everything retained is lag for the real groups, and the API stays ready.
      const before = await metricsText();
      expect(samples(before, 'checkout_events_consumer_lag_up')).toEqual([{ labels: '', value: 1 }]);
      for (const group of ALL_CONSUMER_GROUPS) {
        expect(lagOf(before, group).map((s) => s.labels).sort()).toEqual([0, 1, 2].map((p) => `{group="${group}",partition="${p}"}`));
        expect(lagOf(before, group).reduce((n, s) => n + s.value, 0)).toBe(total);
      }
      const degraded = await api.request('GET', '/readyz');
      expect(degraded.status).toBe(200);
      expect(degraded.body).toMatchObject({ status: 'degraded', checks: { kafka: 'ok', consumers: 'failed' } });

      child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/workers/consumers-main.ts')], {
        cwd: ROOT,
        env: { ...process.env, ...bed.env, APP_URL: api.url, LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      await eventually(async () => expect((await api.request('GET', '/readyz')).body).toMatchObject({ status: 'ready', checks: { consumers: 'ok' } }), 60_000, 500);
      await eventually(async () => {
        const text = await metricsText();
        for (const group of [CONSUMER_GROUPS.orderHistoryProjector, CONSUMER_GROUPS.notificationSender]) expect(lagOf(text, group).every((s) => s.value === 0)).toBe(true);
      }, 60_000, 500);

      await bed.produceRaw([{ key: 'poison', value: 'not an event' }]);
      // Dead-lettered by each group that read it (the real ones, and this file's in-process ones).
      const letters = await eventually(async () => {
        const all = await bed.deadLetters();
        expect(all.filter((d) => (ALL_CONSUMER_GROUPS as readonly string[]).includes(d.consumerGroup ?? '')).map((d) => d.consumerGroup).sort()).toEqual([...ALL_CONSUMER_GROUPS].sort());
        return all;
      }, 30_000, 500);
      await eventually(async () => {
        const text = await metricsText();
        expect(samples(text, 'checkout_events_dlq_messages').reduce((n, s) => n + s.value, 0)).toBe(letters.length);
        for (const group of ALL_CONSUMER_GROUPS) expect(lagOf(text, group).every((s) => s.value === 0)).toBe(true);
      }, 30_000, 500);

      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
      await eventually(async () => expect((await api.request('GET', '/readyz')).body).toMatchObject({ status: 'degraded', checks: { consumers: 'failed' } }), 15_000, 500);
    });
  });
});
