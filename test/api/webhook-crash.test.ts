import { createServer, type Server, type Socket } from 'node:net';
import { and, eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import { isTerminal, startSagaHarness, type SagaHarness } from '../support/harness';
import { freePort, startServiceProcess, type ServiceProcess } from '../support/service-process';
import { eventually } from '../ops/support';

/**
 * The API process (src/api/main.ts, as deployed) SIGKILLed after it recorded a Stripe webhook and
 * before it routed it to the checkout's workflow. Stripe delivers the event again; that delivery
 * must reach the workflow, however soon after the first it comes.
 */
describe('a Stripe webhook whose API process died between recording and routing it', () => {
  let h: SagaHarness;
  let api: ServiceProcess | undefined;
  const endpoints: string[] = [];
  // A "Temporal" that takes the connection and never answers: the signal hangs until the process is killed.
  const held = new Set<Socket>();
  const silentTemporal: Server = createServer((socket) => {
    held.add(socket);
    socket.on('error', () => undefined);
  });

  beforeAll(async () => {
    h = await startSagaHarness();
    await new Promise<void>((resolve) => silentTemporal.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await api?.kill();
    for (const id of endpoints) await h?.emulator.stripe.webhookEndpoints.del(id).catch(() => undefined);
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silentTemporal.close(resolve));
    await h?.assertNoChargeWithoutOrderOrRefund();
    await h?.close();
  });

  it('is routed when Stripe delivers it again after the restart, and the 3-D Secure checkout completes', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { PORT: String(port), APP_URL: url, TEMPORAL_TASK_QUEUE: h.taskQueue, LOG_LEVEL: 'info' };
    const silentAddress = `127.0.0.1:${(silentTemporal.address() as { port: number }).port}`;
    api = startServiceProcess('src/api/main.ts', { ...env, TEMPORAL_ADDRESS: silentAddress });
    await api.waitForLog((l) => l.msg === 'API listening', 'API listening');

    const sku = await h.seedProduct({ stock: 3 });
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_authenticationRequired', paymentActionTimeoutMs: 10 * 60_000 });
    await h.waitForStatus(input.checkoutId, (s) => s.status === 'REQUIRES_ACTION');
    const [intent] = await h.emulator.intentsFor(input.checkoutId);
    endpoints.push((await h.emulator.stripe.webhookEndpoints.create({ url: `${url}/webhooks/stripe`, enabled_events: ['*'] })).id);
    await h.emulator.authenticate(intent!.id, 'succeed');

    const succeededRow = async () => {
      const [row] = await h.db
        .select()
        .from(schema.stripeEvents)
        .where(and(eq(schema.stripeEvents.paymentIntentId, intent!.id), eq(schema.stripeEvents.type, 'payment_intent.succeeded')));
      return row;
    };
    const recorded = await eventually(succeededRow, 'payment_intent.succeeded in stripe_events', 30_000);
    await api.kill();
    // Recorded and not routed: the workflow has not heard of the payment.
    expect(['received', 'processing']).toContain((await succeededRow())!.outcome);

    api = startServiceProcess('src/api/main.ts', env);
    await api.waitForLog((l) => l.msg === 'API listening', 'API listening after the restart');
    const redelivered = await fetch(`${h.config.STRIPE_API_URL}/_emulator/events/${recorded.id}/redeliver`, { method: 'POST' });
    expect(redelivered.status).toBe(202);

    const done = await h.waitForStatus(input.checkoutId, (s) => isTerminal(s.status));
    expect(done.status).toBe('COMPLETED');
    expect(await h.stock(sku)).toBe(2);
    expect(await eventually(async () => ((await succeededRow())?.outcome === 'signalled' ? true : undefined), 'the event marked signalled')).toBe(true);
  });
});
