import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { eventually, ROOT, runCli } from './support';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface LogLine {
  msg?: string;
  level?: number;
  [key: string]: unknown;
}

/**
 * The production worker process (src/workers/main.ts), as deployed: SDK runtime metrics and the
 * checkout outcome counters on its Prometheus endpoint, and pino JSON logs carrying checkoutId and
 * workflowId from the workflow logger and from activities.
 */
describe('the worker process', () => {
  let h: SagaHarness;
  let worker: ChildProcess;
  let metricsUrl: string;
  const logs: LogLine[] = [];

  beforeAll(async () => {
    // The harness only as a client: the worker under test is the real process on the harness's queue.
    h = await startSagaHarness({ startWorker: false });
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    worker = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/workers/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_TASK_QUEUE: h.taskQueue, WORKER_METRICS_PORT: String(port), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    worker.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        try {
          logs.push(JSON.parse(line) as LogLine);
        } catch {
          // Not pino's: not ours to assert on.
        }
      }
    });
    worker.stderr!.resume();
    await eventually(async () => (logs.some((l) => l.msg === 'worker started') ? true : undefined), 'the worker to start', 60_000);
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.kill('SIGTERM');
      const killer = setTimeout(() => worker.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    }
    await h?.close();
  });

  it('exports SDK runtime metrics and checkout outcome counters, and logs with the business ids', async () => {
    const sku = await h.seedProduct({ stock: 5, priceMinor: 900 });
    const completed = await h.startCheckout({ items: [{ sku, quantity: 1 }] });
    const declined = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_chargeDeclined' });
    expect((await h.result(completed.input.checkoutId)).status).toBe('COMPLETED');
    expect((await h.result(declined.input.checkoutId)).status).toBe('FAILED');
    const refund = await runCli(h, ['refund', completed.input.orderId, '--amount', '100', '--reason', 'metrics test']);
    expect(refund.code).toBe(0);

    let last = '';
    const metrics = await eventually(async () => {
      last = await (await fetch(metricsUrl)).text();
      return /^checkouts_compensated_total\{/m.test(last) && /^checkouts_completed_total\{/m.test(last) ? last : undefined;
    }, 'the checkout counters on /metrics').catch((err: Error) => {
      throw new Error(`${err.message}; checkout lines: ${last.split('\n').filter((l) => l.includes('checkout')).join('\n')}`);
    });
    const sample = (name: string, label: string) =>
      metrics.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label) && l.includes(h.taskQueue));
    expect(sample('checkouts_completed_total', '')).toMatch(/ 1$/);
    expect(sample('checkouts_failed_total', 'failure_code="PAYMENT_DECLINED"')).toMatch(/ 1$/);
    expect(sample('checkouts_compensated_total', 'outcome="failed"')).toMatch(/ 1$/);
    // The SDK's own runtime metrics, from the same endpoint.
    for (const name of ['temporal_workflow_completed', 'temporal_activity_execution_latency', 'temporal_worker_task_slots_available', 'temporal_workflow_task_schedule_to_start_latency']) {
      expect(metrics).toMatch(new RegExp(`^${name}(_bucket)?\\{`, 'm'));
    }

    // Workflow logger: the checkout's own line, with its workflowId.
    const done = await eventually(async () => logs.find((l) => l.msg === 'checkout completed' && l.checkoutId === completed.input.checkoutId), "the checkout's workflow log line", 10_000);
    expect(done).toMatchObject({ workflowId: `checkout-${completed.input.checkoutId}`, workflowType: 'CheckoutWorkflow', orderId: completed.input.orderId });
    // Activity logs: the activity's info plus the ids the interceptor adds. The SDK holds log lines
    // back for about 100 ms to order them by time, so the refund's may still be on their way.
    const claimed = await eventually(
      async () => logs.find((l) => l.msg === 'refund claimed' && l.orderId === completed.input.orderId),
      "the refund's activity log line",
      10_000,
    );
    expect(claimed).toMatchObject({ checkoutId: completed.input.checkoutId, activityType: 'claimRefund', workflowType: 'RefundWorkflow' });
    expect(String(claimed!.workflowId)).toMatch(/^refund-/);
    expect(claimed!.refundKey).toBe(String(claimed!.workflowId).slice('refund-'.length));
  });
});
