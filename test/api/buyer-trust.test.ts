import { createHash, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { eq } from 'drizzle-orm';
import pino from 'pino';
import * as schema from '../../db/schema';
import { ssoTokenFor } from '../../src/application/sign-in/tokens';
import { eventually, inbox, startConsumerTestBed, type ConsumerTestBed } from '../consumers/support';
import { requireStackVar } from '../support/stack-env';
import { startTestApi, startVariantApp, type StatusView, type TestApi } from './support';

/**
 * The attacks of issue 11 on a buyer's checkout and account, tried over HTTP as an attacker would:
 * with nothing but a checkout id, with someone else's email, with an Idempotency-Key seen elsewhere.
 */

interface Started {
  checkoutId: string;
  checkoutSecret: string;
  statusUrl: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('a checkout is readable and cancellable only by its buyer', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
    await api.receiveWebhooks();
  });
  afterAll(async () => {
    await api?.h.assertNoChargeWithoutOrderOrRefund();
    await api?.close();
  });

  const body = (sku: string, paymentMethodId = 'pm_card_visa') => ({
    customer: { email: `owner-${randomUUID().slice(0, 8)}@example.com`, name: 'Olga Owner' },
    items: [{ sku, quantity: 1 }],
    paymentMethodId,
  });

  /** A checkout parked in 3-D Secure: it holds stock and a client secret while nothing moves. */
  async function parkedCheckout(stock = 3): Promise<Started & { sku: string; cookie: string }> {
    const sku = await api.h.seedProduct({ stock, priceMinor: 2500 });
    const res = await api.request<Started>('POST', '/api/checkouts', { json: body(sku, 'pm_card_authenticationRequired') });
    expect(res.status).toBe(202);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    await api.waitForStatus(res.body.checkoutId, (v) => v.status === 'REQUIRES_ACTION');
    return { ...res.body, sku, cookie };
  }

  it('hands the buyer a secret in the answer and as an HttpOnly, SameSite=Strict cookie for that checkout only, and stores only its hash', async () => {
    const sku = await api.h.seedProduct();
    const res = await api.request<Started>('POST', '/api/checkouts', { json: body(sku) });
    const { checkoutId, checkoutSecret } = res.body;

    expect(res.status).toBe(202);
    expect(checkoutSecret).toMatch(/^[\w-]{43}$/);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie.split(';')[0]).toBe(`checkout_secret=${checkoutSecret}`);
    expect(cookie).toMatch(new RegExp(`; Path=/api/checkouts/${checkoutId}(;|$)`, 'i'));
    expect(cookie).toMatch(/; HttpOnly/i);
    expect(cookie).toMatch(/; SameSite=Strict/i);

    const [row] = await api.h.db.select().from(schema.checkouts).where(eq(schema.checkouts.id, checkoutId));
    expect(row!.secretHash).toBe(sha256(checkoutSecret));
    expect(JSON.stringify(row)).not.toContain(checkoutSecret);
    await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');
  });

  it('shows a stranger who knows only the id nothing, not even that the checkout exists, and refuses their cancel', async () => {
    const victim = await parkedCheckout();
    const stranger = await parkedCheckout();
    const unknownId = randomUUID();

    const attempts = {
      noSecret: await api.request('GET', `/api/checkouts/${victim.checkoutId}`, { asStranger: true }),
      wrongSecret: await api.request('GET', `/api/checkouts/${victim.checkoutId}`, { headers: { 'Checkout-Secret': 'x'.repeat(43) } }),
      ownSecret: await api.request('GET', `/api/checkouts/${victim.checkoutId}`, { headers: { 'Checkout-Secret': stranger.checkoutSecret } }),
      ownCookie: await api.request('GET', `/api/checkouts/${victim.checkoutId}`, { headers: { cookie: stranger.cookie } }),
      longPoll: await api.request('GET', `/api/checkouts/${victim.checkoutId}?waitForChangeMs=100`, { asStranger: true }),
    };
    const unknown = await api.request('GET', `/api/checkouts/${unknownId}`);
    for (const [how, res] of Object.entries(attempts)) {
      expect({ how, status: res.status }).toEqual({ how, status: 404 });
      expect(res.body).toMatchObject({ type: 'urn:checkout-saga:problem:checkout-not-found', status: 404 });
      // The same answer as for an id nobody ever used: existence is not revealed either.
      expect(res.body.detail).toBe(String(unknown.body.detail).replace(unknownId, victim.checkoutId));
      expect(Object.keys(res.body).sort()).toEqual(['detail', 'instance', 'requestId', 'status', 'title', 'type']);
    }

    const cancels = [
      await api.request('POST', `/api/checkouts/${victim.checkoutId}/cancel`, { json: { reason: 'mischief' }, asStranger: true }),
      await api.request('POST', `/api/checkouts/${victim.checkoutId}/cancel`, { json: {}, headers: { cookie: stranger.cookie } }),
    ];
    expect(cancels.map((c) => c.status)).toEqual([404, 404]);

    // The buyer's own view is whole, and the checkout still waits for their bank.
    const own = await api.request<StatusView>('GET', `/api/checkouts/${victim.checkoutId}`, { headers: { 'Checkout-Secret': victim.checkoutSecret } });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ status: 'REQUIRES_ACTION', amount: 2500, payment: { clientSecret: expect.stringMatching(/^pi_.+_secret_/) } });
    expect(await api.h.stock(victim.sku)).toBe(2);

    // The buyer's browser cancels with its cookie alone, as the page does.
    const byCookie = await api.request('POST', `/api/checkouts/${victim.checkoutId}/cancel`, { json: { reason: 'Changed my mind' }, headers: { cookie: victim.cookie } });
    expect(byCookie.status).toBe(202);
    await api.waitForStatus(victim.checkoutId, (v) => v.status === 'CANCELLED');
    expect(await api.h.stock(victim.sku)).toBe(3);
    await api.request('POST', `/api/checkouts/${stranger.checkoutId}/cancel`);
    await api.waitForStatus(stranger.checkoutId, (v) => v.status === 'CANCELLED');
  });

  it('answers an Idempotency-Key replay with the same checkout and the same secret, for a client that lost the first answer', async () => {
    const sku = await api.h.seedProduct();
    const key = randomUUID();
    const sent = body(sku);
    const first = await api.request<Started>('POST', '/api/checkouts', { json: sent, headers: { 'Idempotency-Key': key } });
    const again = await api.request<Started>('POST', '/api/checkouts', { json: sent, headers: { 'Idempotency-Key': key } });

    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.checkoutId).toBe(first.body.checkoutId);
    expect(again.body.checkoutSecret).toBe(first.body.checkoutSecret);
    expect(again.headers.get('set-cookie')?.split(';')[0]).toBe(`checkout_secret=${first.body.checkoutSecret}`);
    await api.waitForStatus(first.body.checkoutId, (v) => v.status === 'COMPLETED');
  });

  it('reveals nothing of the checkout behind an Idempotency-Key when the key is sent with another body', async () => {
    const sku = await api.h.seedProduct();
    const key = randomUUID();
    const first = await api.request<Started>('POST', '/api/checkouts', { json: body(sku), headers: { 'Idempotency-Key': key } });
    const probe = await api.request('POST', '/api/checkouts', { json: body(sku), headers: { 'Idempotency-Key': key } });

    expect(probe.status).toBe(422);
    expect(probe.body).toMatchObject({ type: 'urn:checkout-saga:problem:idempotency-key-reused', status: 422 });
    expect(probe.body).not.toHaveProperty('checkoutId');
    expect(probe.text).not.toContain(first.body.checkoutId);
    expect(probe.text).not.toContain(first.body.checkoutSecret);
    expect(probe.headers.get('set-cookie')).toBeNull();
    await api.waitForStatus(first.body.checkoutId, (v) => v.status === 'COMPLETED');
  });

  it('never writes a checkout secret into a log line: not with the URL, not from a header or a cookie', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const variant = await startVariantApp(api, { logger: pino({ level: 'debug' }, sink) });
    try {
      const sku = await api.h.seedProduct();
      const started = await fetch(`${variant.url}/api/checkouts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body(sku)) });
      const { checkoutId, checkoutSecret } = (await started.json()) as Started;
      expect(checkoutSecret).toEqual(expect.any(String));
      const cookie = (started.headers.get('set-cookie') ?? '').split(';')[0]!;
      await fetch(`${variant.url}/api/checkouts/${checkoutId}?waitForChangeMs=500`, { headers: { 'Checkout-Secret': checkoutSecret } });
      await fetch(`${variant.url}/api/checkouts/${checkoutId}`, { headers: { cookie } });
      await fetch(`${variant.url}/api/checkouts/${checkoutId}`, { headers: { 'Checkout-Secret': `${checkoutSecret}x` } });
      await fetch(`${variant.url}/api/checkouts/${checkoutId}/cancel`, { method: 'POST', headers: { cookie } });
      await api.waitForStatus(checkoutId, (v) => ['COMPLETED', 'CANCELLED'].includes(v.status), 60_000).catch(() => undefined);

      expect(lines.filter((l) => l.includes(checkoutId)).length).toBeGreaterThanOrEqual(4);
      expect(lines.filter((l) => l.includes(checkoutSecret))).toEqual([]);
    } finally {
      await variant.close();
    }
  });
});

describe('signing in after a checkout, and the account takeover of issue 11', () => {
  let bed: ConsumerTestBed;
  let api: TestApi;
  let inboxUrl: string;
  beforeAll(async () => {
    bed = await startConsumerTestBed('buyer-trust');
    await bed.startNotifier();
    api = await startTestApi({ harness: { env: bed.env } });
    inboxUrl = requireStackVar('MAIL_INBOX_URL');
  });
  afterAll(async () => {
    await api?.h.assertNoChargeWithoutOrderOrRefund();
    await api?.close();
    await bed?.close();
  });

  const redeem = (token: string) => api.request<{ user: { id: string; email: string } }>('POST', '/api/sso/redeem', { json: { token } });
  const linkIn = (text: string) => /https?:\/\/\S+\/sso\/callback\?token=([\w-]+)/.exec(text);

  it('signs a new account in at once, and its receipt carries no sign-in link', async () => {
    const sku = await api.h.seedProduct();
    const email = `newcomer-${randomUUID().slice(0, 8)}@example.com`;
    const started = await api.startCheckout(sku, { customer: { email, name: 'Nina Newcomer' } });
    const view = await api.waitForStatus(String(started.body.checkoutId), (v) => v.status === 'COMPLETED');

    expect(view.sso).toEqual({ redirectUrl: expect.stringMatching(/\/sso\/callback\?token=[\w-]+$/) });
    const login = await redeem(new URL(view.sso!.redirectUrl).searchParams.get('token')!);
    expect(login.status).toBe(200);
    const [receipt] = await eventually(async () => {
      const mails = await inbox(inboxUrl, email);
      expect(mails).toHaveLength(1);
      return mails;
    });
    expect(linkIn(receipt!.text)).toBeNull();
    expect(receipt!.html).not.toContain('/sso/callback');
  });

  it('completes a checkout placed with someone else’s email without signing its buyer into their account, and emails the owner a one-time link instead', async () => {
    // The victim has an account from an earlier purchase of their own.
    const sku = await api.h.seedProduct({ priceMinor: 300, name: 'Cheapest sticker' });
    const victimEmail = `victim-${randomUUID().slice(0, 8)}@example.com`;
    const own = await api.startCheckout(sku, { customer: { email: victimEmail, name: 'Vera Victim' } });
    await api.waitForStatus(String(own.body.checkoutId), (v) => v.status === 'COMPLETED');
    const [victim] = await api.h.db.select().from(schema.users).where(eq(schema.users.email, victimEmail));

    // The attacker buys the cheapest item with their own card, giving the victim's email.
    const attack = await api.startCheckout(sku, { customer: { email: victimEmail.toUpperCase(), name: 'Mallory' } });
    const checkoutId = String(attack.body.checkoutId);
    const view = await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED');

    // The order goes through, but nothing the attacker sees signs anyone in.
    expect(view.sso).toEqual({ delivery: 'email' });
    expect(JSON.stringify(view)).not.toContain('/sso/callback');
    const guessed = ssoTokenFor(api.h.config.SSO_SECRET, checkoutId);
    expect((await redeem(guessed)).status).toBe(401);
    const callback = await fetch(`${api.url}/sso/callback?token=${guessed}`, { redirect: 'manual' });
    expect(callback.status).toBe(401);
    expect(callback.headers.get('set-cookie')).toBeNull();
    const [order] = await api.h.db.select().from(schema.orders).where(eq(schema.orders.checkoutId, checkoutId));
    expect(order!.status).toBe('CONFIRMED');

    // The owner of the address gets the receipt of that order, with a sign-in link that works once.
    const receipt = await eventually(async () => {
      const mail = (await inbox(inboxUrl, victimEmail)).find((m) => m.subject.includes(view.orderId.slice(0, 8).toUpperCase()));
      expect(mail).toBeDefined();
      return mail!;
    });
    const link = linkIn(receipt.text);
    expect(link).not.toBeNull();
    expect(receipt.html).toContain(link![0]);
    const token = link![1]!;
    const [stored] = await api.h.db.select().from(schema.ssoTokens).where(eq(schema.ssoTokens.checkoutId, checkoutId));
    expect(stored).toMatchObject({ tokenHash: sha256(token), delivery: 'email', userId: victim!.id });
    // It survives ordinary mail delay: far longer than the page's auto-login token.
    expect(stored!.expiresAt.getTime() - Date.now()).toBeGreaterThan(60 * 60_000);

    // Never in workflow history, never on Kafka: the email is its only copy.
    const history = JSON.stringify(await api.h.client.workflow.getHandle(`checkout-${checkoutId}`).fetchHistory());
    expect(history).not.toContain(token);
    const events = await api.h.events(view.orderId, (es) => es.some((e) => e.type === 'order.confirmed'));
    expect(JSON.stringify(events)).not.toContain(token);
    expect(events.find((e) => e.type === 'order.confirmed')!.data).toMatchObject({ signInDelivery: 'email' });

    const login = await redeem(token);
    expect(login.status).toBe(200);
    expect(login.body.user).toMatchObject({ id: victim!.id, email: victimEmail });
    expect((await redeem(token)).status).toBe(401);
  });
});
