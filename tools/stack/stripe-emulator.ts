import { existsSync } from 'node:fs';
import path from 'node:path';
import { assertPortFree, startProcess, StackError, stopStaleProcess, waitUntilHealthy, type ManagedProcess } from './processes';

/**
 * The project's Stripe emulator (tools/stripe-emulator), run as its own process like every other
 * component: the service reaches it over HTTP exactly as it would reach api.stripe.com, and it
 * delivers signed webhooks back to the API.
 *
 * Contract of tools/stripe-emulator/main.ts: env STRIPE_EMULATOR_PORT, STRIPE_WEBHOOK_SECRET,
 * optional STRIPE_WEBHOOK_URL (an endpoint registered at boot) and STRIPE_MOCK_URL (every request
 * is also validated against stripe-mock); `GET /_emulator/health` answers 200 when ready.
 */

const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const STRIPE_EMULATOR_ENTRY = path.join(REPO_ROOT, 'tools', 'stripe-emulator', 'main.ts');

export function stripeEmulatorAvailable(): boolean {
  return existsSync(STRIPE_EMULATOR_ENTRY);
}

export interface StripeEmulatorOptions {
  stateDir: string;
  port: number;
  webhookSecret: string;
  webhookUrl?: string;
  stripeMockUrl?: string;
  portEnvVar?: string;
}

export interface StripeEmulatorHandle {
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startStripeEmulator(opts: StripeEmulatorOptions): Promise<StripeEmulatorHandle> {
  if (!stripeEmulatorAvailable()) throw new StackError(`Stripe emulator entry point ${path.relative(REPO_ROOT, STRIPE_EMULATOR_ENTRY)} does not exist`);
  await stopStaleProcess(opts.stateDir, 'stripe-emulator', 'Stripe emulator');
  await assertPortFree(opts.port, 'Stripe emulator', opts.portEnvVar);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    STRIPE_EMULATOR_PORT: String(opts.port),
    STRIPE_WEBHOOK_SECRET: opts.webhookSecret,
  };
  delete env.STRIPE_WEBHOOK_URL;
  delete env.STRIPE_MOCK_URL;
  if (opts.webhookUrl) env.STRIPE_WEBHOOK_URL = opts.webhookUrl;
  if (opts.stripeMockUrl) env.STRIPE_MOCK_URL = opts.stripeMockUrl;
  const proc = await startProcess({
    name: 'stripe-emulator',
    label: 'Stripe emulator',
    command: process.execPath,
    // `node --import tsx` rather than the tsx CLI: one process instead of a wrapper plus a child.
    args: ['--import', 'tsx', STRIPE_EMULATOR_ENTRY],
    cwd: REPO_ROOT,
    env,
    stateDir: opts.stateDir,
    graceMs: 5_000,
  });
  const url = `http://127.0.0.1:${opts.port}`;
  try {
    await waitUntilHealthy(
      'Stripe emulator',
      async () => {
        const res = await fetch(`${url}/_emulator/health`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        return res.status === 200;
      },
      { timeoutMs: 30_000, process: proc },
    );
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { url, process: proc, stop: () => proc.stop() };
}
