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
    const { checkoutId, checkoutSecret } = (await started.json()) as { checkoutId: string; checkoutSecret: string };
    await h.waitForStatus(checkoutId, (s) => s.status === 'REQUIRES_ACTION');
    const longPoll = fetch(`${url}/api/checkouts/${checkoutId}?waitForChangeMs=30000`, { headers: { 'Checkout-Secret': checkoutSecret } }).then(async (res) => ({
      status: res.status,
      body: (await res.json()) as { status: string },
    }));
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

  it('serves its metrics only on the internal API_METRICS_PORT, never on the public port', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/api/main.ts')], {
      cwd: ROOT,
      env: { ...stackEnv(), PORT: String(port), API_METRICS_PORT: String(metricsPort), APP_URL: url, TEMPORAL_TASK_QUEUE: h.taskQueue },
      stdio: 'ignore',
    });
    await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200, 30_000);
    await fetch(`${url}/api/products`);

    const publicMetrics = await fetch(`${url}/metrics`);
    expect(publicMetrics.status).toBe(404);
    expect(await publicMetrics.text()).not.toContain('http_request_duration_seconds');
    const internal = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(internal.status).toBe(200);
    expect(await internal.text()).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/api\/products",status="200"\} \d+/);
    // The internal port serves metrics and nothing else.
    expect((await fetch(`http://127.0.0.1:${metricsPort}/api/products`)).status).toBe(404);
  });

  it('keeps its rate limits in PostgreSQL as node runs them (no test transform)', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/api/main.ts')], {
      cwd: ROOT,
      env: { ...stackEnv(), PORT: String(port), APP_URL: url, TEMPORAL_TASK_QUEUE: h.taskQueue, RATE_LIMIT_LOGINS_PER_MINUTE: '1' },
      stdio: 'ignore',
    });
    await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200, 30_000);
    const guess = () => fetch(`${url}/api/sso/redeem`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'guess' }) });

    expect((await guess()).status).toBe(401);
    const limited = await guess();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  describe('refuses to start with the repository’s development secrets outside a developer machine, whatever NODE_ENV says', () => {
    /** Runs the API process with `env` on top of the stack's, without SSO_SECRET and STRIPE_WEBHOOK_SECRET: started, or its exit and output. */
    async function startWith(env: Record<string, string>): Promise<{ started: boolean; code?: number | null; output: string }> {
      const port = await freePort();
      const { SSO_SECRET: _sso, STRIPE_WEBHOOK_SECRET: _webhook, ...stack } = stackEnv() as unknown as Record<string, string>;
      const output: string[] = [];
      child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/api/main.ts')], {
        cwd: ROOT,
        env: { ...stack, PORT: String(port), NODE_ENV: 'development', TEMPORAL_TASK_QUEUE: h.taskQueue, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      const proc = child;
      const exited = once(proc, 'exit').then(([code]) => ({ started: false, code: code as number | null }));
      const listening = (async () => {
        while (proc.exitCode === null && proc.signalCode === null) {
          if ((await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200) return { started: true };
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        return exited;
      })();
      const outcome = await Promise.race([exited, listening]);
      return { ...outcome, output: output.join('') };
    }

    it('with an APP_URL that is not loopback', async () => {
      const res = await startWith({ APP_URL: 'https://shop.example.com' });
      expect(res).toMatchObject({ started: false, code: 1 });
      expect(res.output).toMatch(/SSO_SECRET: .*development/);
      expect(res.output).toMatch(/STRIPE_WEBHOOK_SECRET: .*development/);
    });

    it('with a live Stripe key', async () => {
      const res = await startWith({ APP_URL: 'http://127.0.0.1:3000', STRIPE_SECRET_KEY: 'sk_live_checkout_saga_test_only', STRIPE_API_URL: 'http://127.0.0.1:9' });
      expect(res).toMatchObject({ started: false, code: 1 });
      expect(res.output).toMatch(/SSO_SECRET: .*development/);
    });
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
