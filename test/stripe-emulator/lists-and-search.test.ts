import { emulatorSuite, newCheckoutId, startEmulator, type TestEmulator } from './support';

describe('Stripe emulator: lists are consistent, search lags', () => {
  const suite = emulatorSuite();
  let lagging: TestEmulator;
  beforeAll(async () => {
    // Stripe: "Under normal operating conditions, data is searchable in under 1 minute."
    lagging = await startEmulator({ stripeMockUrl: suite.stripeMock.url, searchIndexDelayMs: 60_000 });
  });
  afterAll(async () => {
    await lagging?.close();
  });

  const createIntent = (emulator: TestEmulator, checkoutId: string) =>
    emulator.stripe.paymentIntents.create({
      amount: 1500,
      currency: 'eur',
      payment_method: 'pm_card_visa',
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      metadata: { checkoutId },
    });

  it('a new intent is listed at once but found by search only once the index has caught up', async () => {
    const checkoutId = newCheckoutId();
    const intent = await createIntent(lagging, checkoutId);
    const query = `metadata['checkoutId']:'${checkoutId}'`;

    const searchedAtOnce = await lagging.stripe.paymentIntents.search({ query });
    const listed = await lagging.stripe.paymentIntents.list({ created: { gte: intent.created }, limit: 100 });
    await lagging.post('/_emulator/clock/advance', { seconds: 61 });
    const searchedLater = await lagging.stripe.paymentIntents.search({ query });

    expect(searchedAtOnce.data).toEqual([]);
    expect(listed.data.map((pi) => pi.id)).toContain(intent.id);
    expect(searchedLater.data.map((pi) => pi.id)).toEqual([intent.id]);
  });

  it("the SDK's auto-pagination walks a list page by page, newest first, filtered by creation time", async () => {
    const checkoutId = newCheckoutId();
    const made: Awaited<ReturnType<typeof createIntent>>[] = [];
    for (let i = 0; i < 5; i++) made.push(await createIntent(suite.emulator, checkoutId));
    const since = made[0]!.created;

    const seen: string[] = [];
    for await (const intent of suite.emulator.stripe.paymentIntents.list({ created: { gte: since }, limit: 2 })) {
      if (intent.metadata.checkoutId === checkoutId) seen.push(intent.id);
    }
    const future = await suite.emulator.stripe.paymentIntents.list({ created: { gt: since + 3600 } });

    expect(seen).toEqual(made.map((pi) => pi.id).reverse());
    expect(future.data).toEqual([]);
  });
});
