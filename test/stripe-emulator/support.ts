import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Stripe from 'stripe';
import { logger } from '../../src/logger';
import { cacheDir } from '../../tools/stack/cache';
import { createStripeEmulator, type RunningStripeEmulator, type StripeEmulatorOptions } from '../../tools/stripe-emulator/server';

/** Helpers shared by the emulator's tests: a real stripe-mock, an emulator on port 0, the real SDK, a webhook receiver. */

export const WEBHOOK_SECRET = 'whsec_emulator_tests_only';
export const API_KEY = 'sk_test_emulator_tests';
const STRIPE_MOCK_VERSION = '0.197.0';

export interface StripeMock {
  url: string;
  stop(): Promise<void>;
}

/** The stripe-mock named by STRIPE_MOCK_URL, or one of our own on a free port (stopped by `stop`). */
export async function startStripeMock(): Promise<StripeMock> {
  if (process.env.STRIPE_MOCK_URL) return { url: process.env.STRIPE_MOCK_URL, stop: async () => {} };
  const binary = process.env.STRIPE_MOCK_BIN ?? path.join(cacheDir('stripe-mock', STRIPE_MOCK_VERSION), 'stripe-mock');
  // -http-port alone serves plain HTTP only; -http-addr would also open HTTPS on 12112.
  const child = spawn(binary, ['-http-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`stripe-mock did not start within 10s:\n${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Listening for HTTP at address: .*:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run stripe-mock at ${binary} (set STRIPE_MOCK_BIN or STRIPE_MOCK_URL): ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`stripe-mock exited with ${code}:\n${output}`));
    });
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

export interface TestEmulator extends RunningStripeEmulator {
  stripe: Stripe;
  /** A client with its own retry setting (the shared one never retries, so tests see every failure). */
  client(options?: { apiKey?: string; maxNetworkRetries?: number }): Stripe;
  get<T>(pathAndQuery: string): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<{ status: number; body: T }>;
  state(checkoutId: string): Promise<EmulatorState>;
}

export interface EmulatorState {
  paymentIntents: Array<Stripe.PaymentIntent & { charges: Stripe.Charge[]; refunds: Stripe.Refund[]; disputes: Stripe.Dispute[] }>;
  /** Charges that succeeded per intent: an authorization not captured yet counts too. */
  successfulCharges: Record<string, number>;
  /** Charges whose money was taken per intent (captured, at once or later). */
  capturedCharges: Record<string, number>;
  requests: Array<{ method: string; path: string; idempotencyKey: string | null; status: number; replayed: boolean; fault: string | null }>;
}

export async function startEmulator(options: Partial<StripeEmulatorOptions> = {}): Promise<TestEmulator> {
  const running = await createStripeEmulator({
    webhookSecret: WEBHOOK_SECRET,
    logger: logger.child({ component: 'stripe-emulator' }, { level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    webhookRetry: { initialDelayMs: 50, backoffFactor: 2, maxDelayMs: 500, timeoutMs: 2_000 },
    ...options,
  }).listen(0);
  const client = ({ apiKey = API_KEY, maxNetworkRetries = 0 } = {}) =>
    new Stripe(apiKey, { host: '127.0.0.1', port: running.port, protocol: 'http', maxNetworkRetries, telemetry: false });
  const get = async <T>(pathAndQuery: string): Promise<T> => {
    const response = await fetch(`${running.url}${pathAndQuery}`);
    return (await response.json()) as T;
  };
  const post = async <T>(path: string, body: unknown = {}): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${running.url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  return {
    ...running,
    stripe: client(),
    client,
    get,
    post,
    state: (checkoutId) => get<EmulatorState>(`/_emulator/state?metadata.checkoutId=${encodeURIComponent(checkoutId)}`),
  };
}

export interface ReceivedWebhook {
  rawBody: string;
  headers: IncomingHttpHeaders;
  event: Stripe.Event;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Status to answer with for the next deliveries (one per call, then 200). */
  failNext(...statuses: number[]): void;
  waitFor(predicate: (w: ReceivedWebhook) => boolean, timeoutMs?: number): Promise<ReceivedWebhook>;
  close(): Promise<void>;
}

/** A local HTTP server standing in for the service's /webhooks/stripe, keeping each raw body. */
export async function startWebhookReceiver(options: { delayMs?: number } = {}): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const planned: number[] = [];
  const pendingAnswers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      received.push({ rawBody, headers: req.headers, event: JSON.parse(rawBody) as Stripe.Event });
      const status = planned.shift() ?? 200;
      const timer = setTimeout(() => {
        pendingAnswers.delete(timer);
        res.writeHead(status).end();
      }, options.delayMs ?? 0);
      pendingAnswers.add(timer);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/stripe`,
    received,
    failNext: (...statuses) => planned.push(...statuses),
    waitFor: (predicate, timeoutMs = 5_000) => eventually(() => received.find(predicate), timeoutMs, 'webhook'),
    close: async () => {
      for (const timer of pendingAnswers) clearTimeout(timer);
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Polls until `probe` returns something, for what happens in the background (webhooks). */
export async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 5_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The error a promise rejects with, so tests can assert on its class and fields. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Stripe.errors.StripeError) return err;
    throw err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

export function newCheckoutId(): string {
  return `checkout-${Math.random().toString(36).slice(2, 10)}`;
}

export interface EmulatorSuite {
  readonly stripeMock: StripeMock;
  readonly emulator: TestEmulator;
  /** The endpoint the emulator delivers every webhook to; only with `{ webhookReceiver: true }`. */
  readonly receiver: WebhookReceiver;
}

/**
 * A suite's emulator: stripe-mock and an emulator that validates against it (and a webhook receiver
 * when asked), started once before the suite and stopped after it. Faults a test injects are
 * cleared after that test, so no test sees another's.
 */
export function emulatorSuite(options: { webhookReceiver?: boolean } = {}): EmulatorSuite {
  let stripeMock: StripeMock | undefined;
  let receiver: WebhookReceiver | undefined;
  let emulator: TestEmulator | undefined;
  beforeAll(async () => {
    stripeMock = await startStripeMock();
    if (options.webhookReceiver) receiver = await startWebhookReceiver();
    emulator = await startEmulator({ stripeMockUrl: stripeMock.url, ...(receiver ? { webhookUrl: receiver.url } : {}) });
  });
  afterEach(async () => {
    if (emulator) await fetch(`${emulator.url}/_emulator/faults`, { method: 'DELETE' });
  });
  afterAll(async () => {
    await emulator?.close();
    await receiver?.close();
    await stripeMock?.stop();
  });
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not running: use it inside a test, and ask for it in emulatorSuite()`);
    return value;
  };
  return {
    get stripeMock() {
      return started(stripeMock, 'stripe-mock');
    },
    get emulator() {
      return started(emulator, 'the emulator');
    },
    get receiver() {
      return started(receiver, 'the webhook receiver');
    },
  };
}
