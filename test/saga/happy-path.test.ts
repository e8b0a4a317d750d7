import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import { hashToken, ssoTokenFor } from '../../src/application/sign-in/tokens';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { payloadCodec } from '../../src/temporal/data-converter';
import { recordHistory, searchableHistory } from '../support/histories';

describe('a checkout paid with a card that works', () => {
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness();
  });
  afterAll(async () => {
    await h?.assertNoChargeWithoutOrderOrRefund();
    await h?.close();
  });

  it('confirms the order, charges once, creates the account and issues a login token', async () => {
    const sku = await h.seedProduct({ stock: 5, priceMinor: 1999, currency: 'EUR' });
    const other = await h.seedProduct({ stock: 5, priceMinor: 500, currency: 'EUR' });
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 2 }, { sku: other, quantity: 1 }] });

    const result = await h.result(input.checkoutId);
    await recordHistory(handle, 'completed');

    expect(result).toEqual({ status: 'COMPLETED', orderId: input.orderId });
    const [order] = await h.db.select().from(schema.orders).where(eq(schema.orders.id, input.orderId));
    expect(order).toMatchObject({ status: 'CONFIRMED', amountMinor: 2 * 1999 + 500, currency: 'EUR' });
    expect(await h.stock(sku)).toBe(3);
    expect(await h.stock(other)).toBe(4);

    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money).toMatchObject({ captured: 4498, refunded: 0, charges: 1 });
    expect(money.intents).toHaveLength(1);

    const [user] = await h.db.select().from(schema.users).where(eq(schema.users.email, input.customer.email));
    expect(user).toMatchObject({ name: 'Test Buyer', createdByCheckoutId: input.checkoutId });
    expect(order!.userId).toBe(user!.id);

    const [token] = await h.db.select().from(schema.ssoTokens).where(eq(schema.ssoTokens.checkoutId, input.checkoutId));
    expect(token!.tokenHash).toBe(hashToken(ssoTokenFor(h.config.SSO_SECRET, input.checkoutId)));
    expect(token!.usedAt).toBeNull();
    expect(token!.expiresAt.getTime()).toBeGreaterThan(Date.now());
  });

  it('is in PostgreSQL as PENDING from the moment it starts, before a worker takes it, and the saga moves that one row on', async () => {
    const sku = await h.seedProduct({ stock: 5, priceMinor: 700 });
    await h.stopWorker();
    let input;
    try {
      ({ input } = await h.startCheckout({ items: [{ sku, quantity: 2 }] }));
      const [waiting] = await h.db.select().from(schema.checkouts).where(eq(schema.checkouts.id, input.checkoutId));
      expect(waiting).toMatchObject({ orderId: input.orderId, customerEmail: input.customer.email, customerName: 'Test Buyer', status: 'PENDING', amountMinor: null });
      expect(waiting!.secretHash).toEqual(expect.any(String));
    } finally {
      await h.startWorker();
    }

    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    const rows = await h.db.select().from(schema.checkouts).where(eq(schema.checkouts.orderId, input.orderId));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: input.checkoutId, status: 'COMPLETED', amountMinor: 1400, currency: 'EUR' });
  });

  it('publishes the outcome events in order under the order id, with deterministic ids and sequence numbers', async () => {
    const sku = await h.seedProduct();
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });
    await h.result(input.checkoutId);

    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'order.confirmed'));

    expect(events.map((e) => e.type)).toEqual(['checkout.started', 'stock.reserved', 'payment.captured', 'user.created', 'order.confirmed']);
    expect(events.map((e) => e.data.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(events.map((e) => e.id)).toEqual(events.map((e) => `checkout-${input.checkoutId}:${e.type}`));
    expect(new Set(events.map((e) => e.partition)).size).toBe(1);
    expect(events.at(-1)!.data).toMatchObject({ orderId: input.orderId, amount: 1250, currency: 'EUR', customerEmail: input.customer.email });
  });

  it('keeps the raw login token out of the workflow history', async () => {
    const sku = await h.seedProduct();
    const { input, handle } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });
    await h.result(input.checkoutId);

    const history = await searchableHistory(await handle.fetchHistory(), payloadCodec(h.config));

    // The payloads are read, not just their bytes: the customer's email is in the workflow's input.
    expect(history).toContain(input.customer.email);
    expect(history).not.toContain(ssoTokenFor(h.config.SSO_SECRET, input.checkoutId));
  });

  it('finds the existing account of a returning customer instead of creating a second one', async () => {
    const sku = await h.seedProduct();
    const first = await h.startCheckout({ items: [{ sku, quantity: 1 }] });
    await h.result(first.input.checkoutId);
    const again = await h.startCheckout({ items: [{ sku, quantity: 1 }], customer: first.input.customer });
    await h.result(again.input.checkoutId);

    const accounts = await h.db.select().from(schema.users).where(eq(schema.users.email, first.input.customer.email));
    expect(accounts).toHaveLength(1);
    const events = await h.events(again.input.orderId, (es) => es.some((e) => e.type === 'order.confirmed'));
    expect(events.map((e) => e.type)).not.toContain('user.created');
  });
});
