import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { Registry } from 'prom-client';
import Stripe from 'stripe';
import { createApp, type ApiDeps } from '../../src/api/app';
import { listenForStatusChanges } from '../../src/application/checkouts/status-feed';
import { createStripeClient } from '../../src/stripe/client';
import { createMetricsApp } from '../../src/api/metrics';
import { createReadinessChecker, kafkaProbe, postgresProbe, temporalProbe } from '../../src/api/readiness';
import { logger } from '../../src/logger';
import { startSagaHarness, type HarnessOptions, type SagaHarness } from '../support/harness';

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  json?: unknown;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /**
   * Leave out the checkout's secret that `request` otherwise adds to every call on a checkout this
   * API started (as the buyer's page and API clients do): the request of someone who only knows the id.
   */
  asStranger?: boolean;
}

export interface TestApi {
  /** `http://127.0.0.1:<port>`: also the APP_URL the worker and the API were configured with. */
  url: string;
  /** The Express app behind `url`, e.g. to walk its routes. */
  app: Express;
  h: SagaHarness;
  metrics: Registry;
  /**
   * Any request to the API. The secret of every checkout it started (from the `POST /api/checkouts`
   * answer) is sent along in the `Checkout-Secret` header on that checkout's own paths, unless the
   * caller sends its own or asks to be a stranger.
   */
  request<T = Record<string, unknown>>(method: string, path: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  /** The secret the API handed out with a checkout it started, if any. */
  secretOf(checkoutId: string): string | undefined;
  /** Notes a checkout's secret learned elsewhere (e.g. from a variant app), so `request` sends it. */
  rememberSecret(checkoutId: string, secret: string): void;
  /** The API's internal metrics endpoint (API_METRICS_PORT in a deployment), apart from `url`. */
  metricsUrl: string;
  /** The Prometheus text of that endpoint. */
  scrapeMetrics(): Promise<string>;
  /** POST /api/checkouts with a valid body for `sku`, overridable field by field. */
  startCheckout(sku: string, overrides?: Partial<CheckoutBody>, headers?: Record<string, string>): Promise<ApiResponse>;
  /** Long-polls GET /api/checkouts/:id until `wanted` holds. */
  waitForStatus(checkoutId: string, wanted: (view: StatusView) => boolean, timeoutMs?: number): Promise<StatusView>;
  /** Makes the emulator deliver its webhooks to this API (removed again by close()). */
  receiveWebhooks(): Promise<void>;
  close(): Promise<void>;
}

export interface CheckoutBody {
  customer: { email: string; name?: string };
  items: { sku: string; quantity: number }[];
  paymentMethodId: string;
}

export interface StatusView {
  checkoutId: string;
  status: string;
  step: string | null;
  orderId: string;
  amount: number | null;
  currency: string | null;
  payment: { status: string; clientSecret?: string; nextActionUrl?: string };
  failure?: { code: string; message: string };
  sso?: { redirectUrl: string };
  compensations: { name: string; status: string; outcome?: string }[];
  updatedAt: string;
  version?: number;
}

export interface TestApiOptions {
  harness?: HarnessOptions;
  deps?: Partial<ApiDeps>;
}

/**
 * The real app on a free port, in front of a harness worker on its own task queue. The port is
 * taken before the worker starts so APP_URL (3-D Secure return URL, SSO links) points at this API.
 */
export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const h = await startSagaHarness({ ...options.harness, env: { APP_URL: url, ...options.harness?.env } });
  const kafkaAdmin: Admin = new Kafka({ clientId: `api-test-${randomUUID()}`, brokers: h.config.KAFKA_BROKERS, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  // The registry the app really uses: a test may hand it its own (e.g. with the consumer metrics).
  const metrics = options.deps?.metrics ?? new Registry();
  const statusFeed = listenForStatusChanges(h.database.sql, logger.child({ component: 'api-under-test' }));
  const app = createApp({
    config: h.config,
    db: h.db,
    temporal: h.client,
    stripe: createStripeClient(h.config),
    statusFeed,
    logger: logger.child({ component: 'api-under-test' }),
    metrics,
    readiness: createReadinessChecker({ postgres: postgresProbe(h.database.sql), temporal: temporalProbe(h.client), kafka: kafkaProbe(kafkaAdmin) }),
    ...options.deps,
  });
  server.on('request', app);

  const webhookEndpoints: string[] = [];
  const secrets = new Map<string, string>();
  const metricsServer = createServer(createMetricsApp(metrics));
  await new Promise<void>((resolve) => metricsServer.listen(0, '127.0.0.1', resolve));
  const metricsUrl = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`;

  const api: TestApi = {
    url,
    app,
    h,
    metrics,
    metricsUrl,

    async request(method, path, { json, body, headers = {}, asStranger = false } = {}) {
      const checkoutId = CHECKOUT_PATH.exec(path)?.[1];
      const secret = checkoutId && !asStranger ? secrets.get(checkoutId) : undefined;
      const ownCredentials = Object.keys(headers).some((h) => ['checkout-secret', 'cookie'].includes(h.toLowerCase()));
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(secret && !ownCredentials ? { 'Checkout-Secret': secret } : {}),
          ...headers,
        },
        body: json !== undefined ? JSON.stringify(json) : body,
        redirect: 'manual',
      });
      const response = await toApiResponse(res.status, res.headers, await res.text());
      if (method === 'POST' && path === '/api/checkouts') rememberFrom(response);
      return response as ApiResponse<never>;
    },

    secretOf(checkoutId) {
      return secrets.get(checkoutId);
    },

    rememberSecret(checkoutId, secret) {
      secrets.set(checkoutId, secret);
    },

    async scrapeMetrics() {
      const res = await fetch(metricsUrl);
      if (res.status !== 200) throw new Error(`the metrics endpoint answered ${res.status}`);
      return res.text();
    },

    async startCheckout(sku, overrides = {}, headers = {}) {
      const body: CheckoutBody = {
        customer: { email: `buyer-${randomUUID().slice(0, 8)}@example.com`, name: 'Ada Buyer' },
        items: [{ sku, quantity: 1 }],
        paymentMethodId: 'pm_card_visa',
        ...overrides,
      };
      return api.request('POST', '/api/checkouts', { json: body, headers });
    },

    async waitForStatus(checkoutId, wanted, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: StatusView | undefined;
      while (Date.now() < deadline) {
        const res = await api.request<StatusView>('GET', `/api/checkouts/${checkoutId}?waitForChangeMs=2000${last?.version !== undefined ? `&sinceVersion=${last.version}` : ''}`);
        if (res.status !== 200) throw new Error(`GET status answered ${res.status}: ${res.text}`);
        last = res.body;
        if (wanted(last)) return last;
      }
      throw new Error(`checkout ${checkoutId} did not reach the wanted state in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    },

    async receiveWebhooks() {
      const endpoint = await h.emulator.stripe.webhookEndpoints.create({ url: `${url}/webhooks/stripe`, enabled_events: ['*'] });
      webhookEndpoints.push(endpoint.id);
    },

    async close() {
      for (const id of webhookEndpoints) await h.emulator.stripe.webhookEndpoints.del(id).catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      metricsServer.closeAllConnections();
      await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      await kafkaAdmin.disconnect().catch(() => undefined);
      await statusFeed.close();
      await h.close();
    },
  };
  function rememberFrom(response: ApiResponse) {
    const { checkoutId, checkoutSecret } = (response.body ?? {}) as { checkoutId?: unknown; checkoutSecret?: unknown };
    if (response.status === 202 && typeof checkoutId === 'string' && typeof checkoutSecret === 'string') secrets.set(checkoutId, checkoutSecret);
  }
  return api;
}

/** `/api/checkouts/<id>` and what lies below it (cancel): the paths a checkout's secret opens. */
const CHECKOUT_PATH = /^\/api\/checkouts\/([0-9a-f-]{36})(?:[/?]|$)/i;

async function toApiResponse(status: number, headers: Headers, text: string): Promise<ApiResponse> {
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status, headers, body: parsed as never, text };
}

/** A loopback address of its own (all of 127.0.0.0/8 reaches this machine): another client of the API. */
export function anotherClientAddress(): string {
  const byte = () => 1 + Math.floor(Math.random() * 250);
  return `127.${byte()}.${byte()}.${byte()}`;
}

/**
 * A request sent from `localAddress` (e.g. from anotherClientAddress()), so the API sees another
 * client: a second buyer, or an attacker on another machine.
 */
export function requestFrom<T = Record<string, unknown>>(
  baseUrl: string,
  localAddress: string,
  method: string,
  path: string,
  { json, headers = {} }: { json?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const target = new URL(path, baseUrl);
  const payload = json !== undefined ? JSON.stringify(json) : undefined;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method,
        localAddress,
        headers: { ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          toApiResponse(res.statusCode ?? 0, toHeaders(res.headers), Buffer.concat(chunks).toString('utf8')).then((r) => resolve(r as ApiResponse<T>), reject);
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function toHeaders(incoming: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
  }
  return headers;
}

/**
 * A second app on the same stack with some dependencies swapped (a failing readiness check, an
 * unreachable Temporal, a capturing logger), for the paths the shared one cannot take.
 */
export async function startVariantApp(api: TestApi, overrides: Partial<ApiDeps>): Promise<{ url: string; close(): Promise<void> }> {
  const app = createApp({
    config: api.h.config,
    db: api.h.db,
    temporal: api.h.client,
    stripe: createStripeClient(api.h.config),
    logger: logger.child({ component: 'api-variant' }),
    metrics: new Registry(),
    readiness: { check: async () => ({ ready: true, checks: {} }) },
    ...overrides,
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on (bound, read, released): where an unreachable Temporal "is". */
export async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A `Stripe-Signature` header for `payload`, as Stripe would compute it at `timestamp` (seconds). */
export function signWebhook(payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
}

/** A Stripe event as Stripe would send it for a payment intent of one of our checkouts. */
export function paymentIntentEvent(
  type: string,
  intent: { id: string; status: string; checkoutId?: string; amount?: number; lastPaymentError?: { code: string; decline_code?: string; message: string } },
): { id: string; payload: string } {
  const id = `evt_test_${randomUUID().replace(/-/g, '')}`;
  const event = {
    id,
    object: 'event',
    api_version: '2025-01-27.acacia',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: {
      object: {
        id: intent.id,
        object: 'payment_intent',
        amount: intent.amount ?? 1250,
        currency: 'eur',
        status: intent.status,
        metadata: intent.checkoutId ? { checkoutId: intent.checkoutId } : {},
        last_payment_error: intent.lastPaymentError ?? null,
      },
    },
  };
  return { id, payload: JSON.stringify(event) };
}
