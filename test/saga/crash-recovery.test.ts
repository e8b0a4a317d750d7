import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pickFreePort } from '../../tools/stack/processes';
import { startKafka, type KafkaHandle } from '../../tools/stack/kafka';
import { startSagaHarness, sleep, stackEnv, type SagaHarness } from '../support/harness';

const REPO = path.resolve(__dirname, '../..');

/**
 * The real worker process (`src/workers/main.ts`), so a test can SIGKILL it like a crashed pod.
 * `node --import tsx` rather than the tsx CLI: one process, so the kill is not caught by a wrapper.
 */
function spawnWorker(taskQueue: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/workers/main.ts'], {
    cwd: REPO,
    env: { ...stackEnv(), TEMPORAL_TASK_QUEUE: taskQueue, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('a worker that dies right after Stripe charged the card', () => {
  let h: SagaHarness;
  let worker: ChildProcess | undefined;
  beforeAll(async () => {
    h = await startSagaHarness({ startWorker: false });
  });
  afterAll(async () => {
    if (worker) await killed(worker);
    await h?.emulator.clearFaults();
    await h?.assertNoChargeWithoutOrderOrRefund();
    await h?.close();
  });

  it('is replaced by a new worker that completes the checkout with exactly one charge', async () => {
    const sku = await h.seedProduct({ stock: 2 });
    // The emulator charges at once but holds its answer, so the kill lands after the charge.
    await h.emulator.injectFault({ latencyMs: 5_000, latencyCount: 1, match: 'POST /v1/payment_intents/.*/confirm' });
    worker = spawnWorker(h.taskQueue);
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });

    for (let i = 0; ; i++) {
      const [intent] = await h.emulator.intentsFor(input.checkoutId);
      if (intent?.status === 'succeeded') break;
      if (i > 600) throw new Error('the confirm never reached Stripe');
      await sleep(50);
    }
    await killed(worker);
    worker = spawnWorker(h.taskQueue);

    const result = await h.result(input.checkoutId);
    expect(result.status).toBe('COMPLETED');
    const money = await h.emulator.moneyFor(input.checkoutId);
    expect(money).toMatchObject({ charges: 1, captured: 1250, refunded: 0 });
    expect(await h.stock(sku)).toBe(1);
  });
});

describe('a Kafka broker that goes down while events are being published', () => {
  let kafka: KafkaHandle;
  let dir: string;
  let h: SagaHarness;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'checkout-saga-kafka-outage-'));
    kafka = await startKafka({
      port: await pickFreePort(),
      controllerPort: await pickFreePort(),
      dataDir: path.join(dir, 'data'),
      stateDir: dir,
      topics: { topic: 'checkout.events', dlqTopic: 'checkout.events.dlq', partitions: 3 },
    });
    h = await startSagaHarness({ env: { KAFKA_BROKERS: kafka.brokers.join(',') } });
  });
  afterAll(async () => {
    await h?.close();
    await kafka?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers every event once per id after the broker is back, and the checkout completes', async () => {
    const sku = await h.seedProduct({ stock: 2 });
    await kafka.stop();
    const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }] });
    await sleep(4_000);
    expect((await h.waitForStatus(input.checkoutId, () => true)).status).toBe('PROCESSING');

    await kafka.start();

    expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');
    const events = await h.events(input.orderId, (es) => es.some((e) => e.type === 'order.confirmed'), 60_000);
    expect(events.map((e) => e.type)).toEqual(['checkout.started', 'stock.reserved', 'payment.captured', 'user.created', 'order.confirmed']);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });
});
