import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import type { ApiDeps } from '../../src/api/app';
import { countInProgress } from '../../src/application/checkouts/admission';
import type { Config } from '../../src/config';
import { anotherClientAddress, requestFrom, startTestApi, startVariantApp, type ApiResponse, type TestApi } from './support';

/**
 * One anonymous client against everyone else (issue 11): floods, hoarding a product's stock, jamming
 * the door with parked 3-D Secure checkouts, brute-forcing sign-in links. Every limit is per client
 * address, kept in PostgreSQL so it holds across API instances, and answers 429 with Retry-After.
 */

interface Problem {
  type: string;
  status: number;
  detail: string;
  errors?: { field: string; message: string }[];
}

describe('limits one client cannot get around', () => {
  let api: TestApi;
  const variants: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    for (const v of variants) await v.close();
    await api?.h.assertNoChargeWithoutOrderOrRefund();
    await api?.close();
  });

  /** Another API instance on the same database and Temporal, with some limits set. */
  async function instance(limits: Partial<Config>, deps: Partial<ApiDeps> = {}): Promise<string> {
    const variant = await startVariantApp(api, { config: { ...api.h.config, ...limits }, ...deps });
    variants.push(variant);
    return variant.url;
  }

  const cart = (sku: string, paymentMethodId = 'pm_card_visa', quantity = 1) => ({
    customer: { email: `client-${randomUUID().slice(0, 8)}@example.com` },
    items: [{ sku, quantity }],
    paymentMethodId,
  });

  /** POST /api/checkouts from `from`; the secret it hands out is kept so the test can follow the checkout. */
  async function start(url: string, from: string, body: object, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const res = await requestFrom(url, from, 'POST', '/api/checkouts', { json: body, headers });
    if (res.status === 202 && typeof res.body.checkoutSecret === 'string') api.rememberSecret(String(res.body.checkoutId), res.body.checkoutSecret);
    return res;
  }

  function expectLimited(res: ApiResponse, type = 'rate-limited'): void {
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: `urn:checkout-saga:problem:${type}`, status: 429 });
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  }

  it('answers 429 with Retry-After once an address has started RATE_LIMIT_CHECKOUTS_PER_MINUTE checkouts, counted across API instances, while another address still buys', async () => {
    const sku = await api.h.seedProduct({ stock: 20 });
    const [first, second] = [await instance({ RATE_LIMIT_CHECKOUTS_PER_MINUTE: 2 }), await instance({ RATE_LIMIT_CHECKOUTS_PER_MINUTE: 2 })];
    const flooder = anotherClientAddress();

    const answers = [await start(first, flooder, cart(sku)), await start(second, flooder, cart(sku)), await start(first, flooder, cart(sku))];
    expect(answers.map((a) => a.status)).toEqual([202, 202, 429]);
    expectLimited(answers[2]!);

    const buyer = await start(second, anotherClientAddress(), cart(sku));
    expect(buyer.status).toBe(202);
    await api.waitForStatus(String(buyer.body.checkoutId), (v) => v.status === 'COMPLETED');
    for (const a of answers.slice(0, 2)) await api.waitForStatus(String(a.body.checkoutId), (v) => v.status === 'COMPLETED');
  });

  it('ignores X-Forwarded-For from a client, and believes it only from a proxy named in TRUST_PROXY', async () => {
    const sku = await api.h.seedProduct({ stock: 20 });
    const direct = await instance({ RATE_LIMIT_CHECKOUTS_PER_MINUTE: 1 });
    const client = anotherClientAddress();
    const spoofed = [
      await start(direct, client, cart(sku), { 'X-Forwarded-For': '198.51.100.1' }),
      await start(direct, client, cart(sku), { 'X-Forwarded-For': '198.51.100.2' }),
    ];
    expect(spoofed.map((a) => a.status)).toEqual([202, 429]);

    // Behind a proxy on loopback, the proxy's X-Forwarded-For names the client.
    const proxied = await instance({ RATE_LIMIT_CHECKOUTS_PER_MINUTE: 1, TRUST_PROXY: 'loopback' });
    const proxy = anotherClientAddress();
    const [a, b] = [`203.0.113.${1 + Math.floor(Math.random() * 120)}`, `203.0.113.${130 + Math.floor(Math.random() * 120)}`];
    const viaProxy = [
      await start(proxied, proxy, cart(sku), { 'X-Forwarded-For': a }),
      await start(proxied, proxy, cart(sku), { 'X-Forwarded-For': a }),
      await start(proxied, proxy, cart(sku), { 'X-Forwarded-For': b }),
    ];
    expect(viaProxy.map((r) => r.status)).toEqual([202, 429, 202]);
    for (const r of [spoofed[0]!, viaProxy[0]!, viaProxy[2]!]) await api.waitForStatus(String(r.body.checkoutId), (v) => v.status === 'COMPLETED');
  });

  it('limits sign-in attempts per address, on POST /api/sso/redeem and GET /sso/callback together', async () => {
    const url = await instance({ RATE_LIMIT_LOGINS_PER_MINUTE: 3 });
    const guesser = anotherClientAddress();
    const guess = () => requestFrom(url, guesser, 'POST', '/api/sso/redeem', { json: { token: randomUUID() } });
    const tries = [await guess(), await requestFrom(url, guesser, 'GET', `/sso/callback?token=${randomUUID()}`), await guess()];
    expect(tries.map((t) => t.status)).toEqual([401, 401, 401]);

    expectLimited(await guess());
    expectLimited(await requestFrom(url, guesser, 'GET', `/sso/callback?token=${randomUUID()}`));
    expect((await requestFrom(url, anotherClientAddress(), 'POST', '/api/sso/redeem', { json: { token: randomUUID() } })).status).toBe(401);
  });

  it('limits cancel requests per address, so ids learned elsewhere cannot be sprayed with cancels', async () => {
    const url = await instance({ RATE_LIMIT_CANCELS_PER_MINUTE: 2 });
    const sprayer = anotherClientAddress();
    const cancel = () => requestFrom(url, sprayer, 'POST', `/api/checkouts/${randomUUID()}/cancel`, { json: {} });
    expect([(await cancel()).status, (await cancel()).status]).toEqual([404, 404]);
    expectLimited(await cancel());
  });

  it('refuses a cart holding more than MAX_UNITS_PER_SKU units of one product, however the lines are split, and the stock stays on sale', async () => {
    const sku = await api.h.seedProduct({ stock: 40, name: 'Limited sneakers' });
    const url = await instance({ MAX_UNITS_PER_SKU: 10 });
    const hoarder = anotherClientAddress();
    const email = `hoarder-${randomUUID().slice(0, 8)}@example.com`;
    const split = await start(url, hoarder, { customer: { email }, items: [{ sku, quantity: 6 }, { sku, quantity: 6 }], paymentMethodId: 'pm_card_authenticationRequired' });
    const single = await start(url, hoarder, { ...cart(sku, 'pm_card_authenticationRequired', 11), customer: { email } });

    for (const res of [split, single]) {
      expect(res.status).toBe(400);
      const problem = res.body as unknown as Problem;
      expect(problem.type).toBe('urn:checkout-saga:problem:validation-failed');
      expect(problem.errors).toEqual([{ field: 'items[0].quantity', message: expect.stringMatching(/at most 10 units/) }]);
    }
    expect(await api.h.db.select().from(schema.checkouts).where(eq(schema.checkouts.customerEmail, email))).toEqual([]);
    expect(await api.h.stock(sku)).toBe(40);

    const buyer = await start(url, anotherClientAddress(), cart(sku, 'pm_card_visa', 10));
    expect(buyer.status).toBe(202);
    await api.waitForStatus(String(buyer.body.checkoutId), (v) => v.status === 'COMPLETED');
    expect(await api.h.stock(sku)).toBe(30);
  });

  it('keeps one address from filling the door with parked 3-D Secure checkouts, while a buyer from elsewhere still gets in', async () => {
    const sku = await api.h.seedProduct({ stock: 50 });
    // Room for three more checkouts in all; one client may hold two of them.
    const url = await instance({ CHECKOUT_MAX_IN_FLIGHT: (await countInProgress(api.h.db)) + 3, CHECKOUT_MAX_IN_FLIGHT_PER_CLIENT: 2 });
    const jammer = anotherClientAddress();
    const parked: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await start(url, jammer, cart(sku, 'pm_card_authenticationRequired'));
      expect(res.status).toBe(202);
      parked.push(String(res.body.checkoutId));
      await api.waitForStatus(parked[i]!, (v) => v.status === 'REQUIRES_ACTION');
    }
    try {
      const third = await start(url, jammer, cart(sku, 'pm_card_authenticationRequired'));
      if (third.status === 202) parked.push(String(third.body.checkoutId));
      expectLimited(third, 'too-many-checkouts-in-progress');
      expect((third.body as unknown as Problem).detail).toMatch(/2 checkouts in progress/);

      const buyer = await start(url, anotherClientAddress(), cart(sku));
      expect(buyer.status).toBe(202);
      expect((await api.waitForStatus(String(buyer.body.checkoutId), (v) => v.status === 'COMPLETED')).status).toBe('COMPLETED');

      // Once one of its checkouts is over, the same address may start another.
      const over = parked.shift()!;
      await api.request('POST', `/api/checkouts/${over}/cancel`);
      await api.h.result(over);
      const again = await start(url, jammer, cart(sku, 'pm_card_authenticationRequired'));
      expect(again.status).toBe(202);
      parked.push(String(again.body.checkoutId));
    } finally {
      for (const id of parked) {
        await api.request('POST', `/api/checkouts/${id}/cancel`);
        await api.waitForStatus(id, (v) => v.status === 'CANCELLED');
      }
    }
  });
});
