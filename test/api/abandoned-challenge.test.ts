import { sleep } from '../support/harness';
import { startTestApi, type StatusView, type TestApi } from './support';

/**
 * One request with a 3-D Secure card used to hold a product's stock for the whole
 * PAYMENT_ACTION_TIMEOUT_MS, unpaid. Now a challenge whose buyer stopped following the checkout is
 * given up after PAYMENT_ABANDON_AFTER_MS, while a buyer whose page keeps reading the status keeps
 * the full time to finish it.
 */
describe('a 3-D Secure challenge nobody follows any more', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi({ harness: { env: { PAYMENT_ABANDON_AFTER_MS: '3000', PAYMENT_ACTION_TIMEOUT_MS: '120000' } } });
    await api.receiveWebhooks();
  });
  afterAll(async () => {
    await api?.h.assertNoChargeWithoutOrderOrRefund();
    await api?.close();
  });

  it('releases the stock early, while the buyer whose page follows the checkout can still pay', async () => {
    const sku = await api.h.seedProduct({ stock: 2 });
    const walkedAway = await api.startCheckout(sku, { paymentMethodId: 'pm_card_authenticationRequired' });
    const staying = await api.startCheckout(sku, { paymentMethodId: 'pm_card_authenticationRequired' });
    const leftId = walkedAway.body.checkoutId as string;
    const stayId = staying.body.checkoutId as string;
    const requiresAction = (v: StatusView) => v.status === 'REQUIRES_ACTION';
    await api.waitForStatus(leftId, requiresAction);
    await api.waitForStatus(stayId, requiresAction);

    // The staying buyer's page long-polls its status, as the checkout page does.
    let following = true;
    const page = (async () => {
      while (following) {
        await api.request('GET', `/api/checkouts/${stayId}?waitForChangeMs=1000`);
        await sleep(100);
      }
    })();
    try {
      const abandoned = await api.h.result(leftId);
      expect(abandoned.failure?.code).toBe('PAYMENT_ABANDONED');
      expect(await api.h.stock(sku)).toBe(1);
      const left = await api.request<StatusView>('GET', `/api/checkouts/${leftId}`);
      expect(left.body).toMatchObject({ status: 'FAILED', failure: { code: 'PAYMENT_ABANDONED' } });
      expect((await api.request<StatusView>('GET', `/api/checkouts/${stayId}`)).body.status).toBe('REQUIRES_ACTION');
    } finally {
      following = false;
      await page;
    }

    const [intent] = await api.h.emulator.intentsFor(stayId);
    await api.h.emulator.authenticate(intent!.id, 'succeed');
    expect((await api.waitForStatus(stayId, (v) => v.status === 'COMPLETED')).status).toBe('COMPLETED');
  });
});
