import { spawn } from 'node:child_process';
import path from 'node:path';
import type Stripe from 'stripe';
import type { SagaHarness } from '../support/harness';

export const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/checkout-saga.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI as an operator would: the npm bin (`bin/checkout-saga.js`, through tsx) in its own
 * process with the stack's environment, and the harness's task queue so its refunds reach the
 * test's worker.
 */
export function runCli(h: SagaHarness, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_TASK_QUEUE: h.taskQueue, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The `--json` document on stdout. */
export function json<T = Record<string, unknown>>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${run.code}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

/** A refused run prints exactly one line on stderr: the reason. */
export function reasonLine(run: CliRun): string {
  const lines = run.stderr.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

interface EmulatorIntentState {
  id: string;
  status: string;
  amount_received: number;
  latest_charge: string | null;
  refunds: Stripe.Refund[];
}

/** What the Stripe emulator holds for one checkout's intents (`GET /_emulator/state?metadata.checkoutId=`). */
export async function emulatorState(h: SagaHarness, checkoutId: string): Promise<EmulatorIntentState[]> {
  const res = await fetch(`${h.config.STRIPE_API_URL}/_emulator/state?metadata.checkoutId=${encodeURIComponent(checkoutId)}`);
  if (!res.ok) throw new Error(`emulator state answered ${res.status}`);
  return ((await res.json()) as { paymentIntents: EmulatorIntentState[] }).paymentIntents;
}

/** A refund made in the Stripe dashboard, as the emulator's test endpoint does it (sends `charge.refunded`). */
export async function refundExternally(h: SagaHarness, chargeId: string, amount?: number): Promise<Stripe.Refund> {
  const res = await fetch(`${h.config.STRIPE_API_URL}/_emulator/charges/${chargeId}/refund-externally`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(amount === undefined ? {} : { amount }),
  });
  if (!res.ok) throw new Error(`refund-externally answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { refund: Stripe.Refund }).refund;
}

/** The webhook events the emulator sent, as Stripe would deliver them. */
export async function emulatorEvents(h: SagaHarness, filter: { type: string; paymentIntent: string }): Promise<Stripe.Event[]> {
  const query = new URLSearchParams({ type: filter.type, payment_intent: filter.paymentIntent });
  const res = await fetch(`${h.config.STRIPE_API_URL}/_emulator/events?${query}`);
  if (!res.ok) throw new Error(`emulator events answered ${res.status}`);
  return ((await res.json()) as { events: { event: Stripe.Event }[] }).events.map((record) => record.event);
}

/** A completed checkout of `quantity` units at `priceMinor` each. */
export async function completedCheckout(h: SagaHarness, opts: { priceMinor?: number; quantity?: number; stock?: number; email?: string } = {}) {
  const sku = await h.seedProduct({ stock: opts.stock ?? 10, priceMinor: opts.priceMinor ?? 1250 });
  const { input, handle } = await h.startCheckout({
    items: [{ sku, quantity: opts.quantity ?? 2 }],
    ...(opts.email ? { customer: { email: opts.email, name: 'Ops Test' } } : {}),
  });
  const result = await h.result(input.checkoutId);
  expect(result.status).toBe('COMPLETED');
  return { sku, input, handle };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}
