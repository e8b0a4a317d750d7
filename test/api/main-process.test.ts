import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';
import { startSagaHarness, stackEnv, type SagaHarness } from '../support/harness';

const ROOT = path.resolve(__dirname, '../..');

/** `src/api/main.ts` as `npm start` runs it: its own process, the stack's environment, a signal to stop. */
describe('the API process', () => {
  let h: SagaHarness;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    h = await startSagaHarness();
  });
  afterAll(async () => {
    await h?.close();
  });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });

  it('starts, reports itself ready, and on SIGTERM ends open long-polls and exits cleanly', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const output: string[] = [];
    child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/api/main.ts')], {
      cwd: ROOT,
      env: { ...stackEnv(), PORT: String(port), APP_URL: url, LOG_LEVEL: 'info', TEMPORAL_TASK_QUEUE: h.taskQueue },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));

    await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200, 30_000);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);

    // A checkout parked in 3-D Secure, and a long-poll on it that would otherwise wait 30 s.
    const sku = await h.seedProduct();
    const started = await fetch(`${url}/api/checkouts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer: { email: 'process@example.com' }, items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_authenticationRequired' }),
    });
    const { checkoutId } = (await started.json()) as { checkoutId: string };
    await h.waitForStatus(checkoutId, (s) => s.status === 'REQUIRES_ACTION');
    const longPoll = fetch(`${url}/api/checkouts/${checkoutId}?waitForChangeMs=30000`).then(async (res) => ({ status: res.status, body: (await res.json()) as { status: string } }));
    await new Promise((resolve) => setTimeout(resolve, 500));

    const stoppedAt = Date.now();
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];

    const answered = await longPoll;
    expect(answered).toEqual({ status: 200, body: expect.objectContaining({ status: 'REQUIRES_ACTION' }) });
    expect(code).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    const log = output.join('');
    expect(log).toContain('API listening');
    expect(log).toContain('API stopped');
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`not ready within ${timeoutMs} ms`);
}
