import { ensureGoTool } from './go-install';
import { assertPortFree, pickFreePort, startProcess, stopStaleProcess, waitUntilHealthy, type ManagedProcess } from './processes';

/**
 * Stripe's official stripe-mock: it answers from Stripe's OpenAPI spec and rejects malformed
 * requests. Its answers are fixtures, so it validates the requests the service makes; the
 * project's emulator provides the payment behaviour.
 */

export const STRIPE_MOCK_VERSION = '0.197.0';

export function ensureStripeMock(): Promise<string> {
  return ensureGoTool({
    name: 'stripe-mock',
    binary: 'stripe-mock',
    version: STRIPE_MOCK_VERSION,
    packagePath: 'github.com/stripe/stripe-mock',
    expectedDuration: 'under a minute',
  });
}

export interface StripeMockOptions {
  stateDir: string;
  port: number;
  portEnvVar?: string;
}

export interface StripeMockHandle {
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startStripeMock(opts: StripeMockOptions): Promise<StripeMockHandle> {
  const binary = await ensureStripeMock();
  await stopStaleProcess(opts.stateDir, 'stripe-mock', 'stripe-mock');
  await assertPortFree(opts.port, 'stripe-mock', opts.portEnvVar);
  // stripe-mock counts -http-port but not -http-addr as "HTTP chosen", so with -http-addr alone it
  // also opens HTTPS on :12112 on every interface, and a second instance dies on that port. Nothing
  // uses its HTTPS: pin it to a free loopback port.
  const httpsPort = await pickFreePort();
  const proc = await startProcess({
    name: 'stripe-mock',
    label: 'stripe-mock',
    command: binary,
    args: ['-http-addr', `127.0.0.1:${opts.port}`, '-https-addr', `127.0.0.1:${httpsPort}`],
    stateDir: opts.stateDir,
    graceMs: 5_000,
  });
  const url = `http://127.0.0.1:${opts.port}`;
  try {
    await waitUntilHealthy('stripe-mock', () => stripeMockAnswers(url), { timeoutMs: 30_000, process: proc });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { url, process: proc, stop: () => proc.stop() };
}

/** stripe-mock has no health route: an authenticated list call answering 200 proves the spec is loaded. */
async function stripeMockAnswers(url: string): Promise<boolean> {
  const res = await fetch(`${url}/v1/customers?limit=1`, {
    headers: { Authorization: 'Bearer sk_test_123' },
    signal: AbortSignal.timeout(2_000),
  });
  await res.arrayBuffer();
  return res.status === 200;
}
