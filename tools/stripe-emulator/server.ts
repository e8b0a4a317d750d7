import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { logger as rootLogger, type Logger } from '../../src/logger';
import { apiRoutes, type Operation } from './api-operations';
import { AuthorizationExpiry } from './authorization-expiry';
import { EmulatorClock } from './clock';
import { StripeApiError, apiError, docUrl } from './errors';
import { FaultInjector, type InjectedError } from './faults';
import { IdempotencyStore } from './idempotency';
import { newId } from './ids';
import { DEFAULT_AUTHORIZATION_VALIDITY_SECONDS, Ledger } from './ledger';
import { stripeMockValidator, type RequestValidator } from './request-validator';
import { EmulatorStore, type Metadata, type RequestLogEntry } from './store';
import { testEndpoints } from './test-endpoints';
import { DEFAULT_WEBHOOK_RETRY_POLICY, EVENT_API_VERSION, WebhookDispatcher, type WebhookRetryPolicy } from './webhooks';

/**
 * A local stand-in for Stripe test mode, driven through the real `stripe` SDK
 * (`new Stripe(key, { host, port, protocol: 'http' })`). The HTTP contract is described in
 * tools/stripe-emulator/README.md; this file wires the pieces:
 *
 *   /v1 request -> request id, log line -> API key -> injected fault before execution? -> idempotency key
 *     -> stripe-mock validation -> the operation (or an injected failure during or after it)
 *     -> saved for the key -> latency -> answer
 */

export interface StripeEmulatorOptions {
  /** The `whsec_` secret every delivered event is signed with (the service's STRIPE_WEBHOOK_SECRET). */
  webhookSecret: string;
  /** A running stripe-mock that every `/v1` request must pass first. */
  stripeMockUrl?: string;
  /** Base URL browsers reach the emulator at (for 3-D Secure pages); defaults to the listening address. */
  publicUrl?: string;
  /** An endpoint registered at start for every event, as if created in the dashboard. */
  webhookUrl?: string;
  webhookRetry?: Partial<WebhookRetryPolicy>;
  /** Delay before a new intent shows in search; Stripe's index lags by up to a minute. Default 0. */
  searchIndexDelayMs?: number;
  /** How long an uncaptured authorization holds before Stripe cancels its intent. Default 7 days, as for online card payments. */
  authorizationValiditySeconds?: number;
  logger?: Logger;
}

export interface RunningStripeEmulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface StripeEmulator {
  app: express.Express;
  listen(port?: number, host?: string): Promise<RunningStripeEmulator>;
}

interface ApiLocals {
  requestId: string;
  startedAt: number;
  apiKey?: string;
  idempotencyKey: string | null;
  replayed: boolean;
  fault: RequestLogEntry['fault'];
  latencyMs: number | null;
  paymentIntent: string | null;
  metadata: Metadata | null;
}

const DEFAULT_PUBLIC_URL = 'http://127.0.0.1:12121';

export function createStripeEmulator(options: StripeEmulatorOptions): StripeEmulator {
  const logger = options.logger ?? rootLogger.child({ component: 'stripe-emulator' });
  const store = new EmulatorStore();
  const webhooks = new WebhookDispatcher(options.webhookSecret, { ...DEFAULT_WEBHOOK_RETRY_POLICY, ...options.webhookRetry }, logger);
  const clock = new EmulatorClock();
  const idempotency = new IdempotencyStore(clock);
  const faults = new FaultInjector();
  const validate: RequestValidator | null = options.stripeMockUrl ? stripeMockValidator(options.stripeMockUrl, logger) : null;
  let listeningUrl: string | undefined;
  const publicUrl = () => (options.publicUrl ?? listeningUrl ?? DEFAULT_PUBLIC_URL).replace(/\/+$/, '');
  const ledger = new Ledger(
    store,
    (type, object, origin) => webhooks.emit(type, object, origin),
    (id) => `${publicUrl()}/_emulator/3ds/${encodeURIComponent(id)}`,
    clock,
    options.authorizationValiditySeconds ?? DEFAULT_AUTHORIZATION_VALIDITY_SECONDS,
  );
  const expiry = new AuthorizationExpiry(ledger, clock);
  if (options.webhookUrl) {
    webhooks.registerEndpoint({ url: options.webhookUrl, enabledEvents: ['*'], description: 'Registered at start (STRIPE_WEBHOOK_URL)' });
  }

  const rawBodies = new WeakMap<Request, Buffer>();
  const app = express();
  app.disable('x-powered-by');
  // Stripe's query strings nest like its form bodies (`expand[0]=latest_charge`).
  app.set('query parser', 'extended');
  app.use(requestLog(logger, store));
  // Whatever a request reads or changes, authorizations past their time have expired first.
  app.use((_req, res, next) => {
    expiry.sweep();
    res.on('finish', () => expiry.reschedule());
    next();
  });

  app.use('/v1', express.urlencoded({ extended: true, limit: '1mb', verify: (req, _res, buf) => rawBodies.set(req as Request, Buffer.from(buf)) }));
  app.use('/v1', authenticate);

  const run = async (req: Request, res: Response, operation: Operation): Promise<void> => {
    const locals = res.locals as ApiLocals;
    const path = req.path;
    const decision = faults.take(req.method, path);
    locals.latencyMs = decision.latencyMs;
    const answerLater = () => (decision.latencyMs ? sleep(decision.latencyMs) : Promise.resolve());

    const input: unknown = req.method === 'POST' ? (req.body ?? {}) : req.query;
    // Known before anything can fail, so /_emulator/state ties even a refused request to its checkout.
    locals.metadata = metadataIn(input);
    locals.paymentIntent = typeof req.params.id === 'string' && req.params.id.startsWith('pi_') ? req.params.id : null;

    if (decision.error?.phase === 'before_execute') {
      locals.fault = 'before_execute';
      await answerLater();
      send(res, injectedFault(decision.error));
      return;
    }

    // Stripe honours Idempotency-Key on POST only; the SDK sends one with every POST.
    const key = req.method === 'POST' ? locals.idempotencyKey : null;
    const claim = key ? idempotency.begin({ apiKey: locals.apiKey!, key, endpoint: `${req.method} ${path}`, params: input }) : null;
    if (claim?.kind === 'replay') {
      locals.replayed = true;
      locals.paymentIntent ??= paymentIntentIn(claim.response.body);
      res.set({ ...claim.response.headers, 'Idempotent-Replayed': 'true', 'Original-Request': claim.response.requestId });
      await answerLater();
      send(res, claim.response);
      return;
    }

    let result: Answer & { saved: boolean };
    try {
      const refused = validate ? await validate({ method: req.method, url: req.originalUrl, rawBody: rawBodies.get(req) }) : null;
      if (refused) {
        result = { status: refused.status, body: refused.toJSON(), saved: false };
      } else if (decision.error?.phase === 'rolled_back') {
        // The endpoint started (so Stripe saves its answer) and failed without keeping anything.
        locals.fault = 'rolled_back';
        result = { ...injectedFault(decision.error), saved: true };
      } else {
        result = execute(operation, req, locals);
        if (decision.error?.phase === 'after_execute' && result.saved) {
          locals.paymentIntent ??= paymentIntentIn(result.body);
          locals.fault = 'after_execute';
          // What Stripe saves for the key is the answer the caller got, the 5xx, not the work that was done.
          result = { ...injectedFault(decision.error), saved: true };
        }
      }
    } catch (err) {
      claim?.abandon();
      throw err;
    }
    locals.paymentIntent ??= paymentIntentIn(result.body);
    // The key stays in use until the (possibly delayed) answer leaves, as at Stripe.
    await answerLater();
    if (claim) {
      if (result.saved) claim.complete({ status: result.status, body: result.body, requestId: locals.requestId, headers: result.headers });
      else claim.abandon();
    }
    send(res, result);
  };

  for (const route of apiRoutes({ ledger, store, webhooks, searchIndexDelayMs: options.searchIndexDelayMs ?? 0, clock })) {
    const handler: RequestHandler = (req, res) => run(req, res, route.operation);
    app[route.method](route.path, handler);
  }
  app.use('/v1', (req, res) => {
    send(res, {
      status: 404,
      body: {
        error: {
          type: 'invalid_request_error',
          message: `Unrecognized request URL (${req.method}: ${req.originalUrl.split('?')[0]}). The Stripe emulator implements only the endpoints the service uses; see tools/stripe-emulator/README.md.`,
        },
      },
    });
  });
  app.use('/v1', (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    if (err instanceof StripeApiError) return send(res, { status: err.status, body: err.toJSON() });
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // body-parser's refusals: a malformed or oversized form body.
      return send(res, { status, body: { error: { type: 'invalid_request_error', message: `Invalid request body: ${(err as Error).message}` } } });
    }
    logger.error({ err }, 'stripe emulator failed on a request');
    return send(res, { status: 500, body: apiError(500, 'An unexpected error occurred in the Stripe emulator.').toJSON() });
  });

  app.use(
    '/_emulator',
    testEndpoints({ ledger, store, webhooks, faults, idempotency, clock, expiry, validatesWithStripeMock: validate !== null }),
  );
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    logger.error({ err }, 'stripe emulator failed on a request');
    res.status(500).json({ error: { message: 'Internal error in the Stripe emulator' } });
  });

  return {
    app,
    async listen(port = 0, host = '127.0.0.1') {
      const server = app.listen(port, host);
      await once(server, 'listening');
      const address = server.address() as AddressInfo;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
      listeningUrl = url;
      return {
        url,
        port: address.port,
        close: async () => {
          expiry.close();
          webhooks.close();
          const closed = once(server, 'close');
          server.close();
          server.closeAllConnections();
          await closed;
        },
      };
    },
  };
}

/** An answer as it leaves: status, JSON body and the headers that belong to it. */
interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function execute(operation: Operation, req: Request, locals: ApiLocals): Answer & { saved: boolean } {
  const params = Object.fromEntries(Object.entries(req.params).filter((e): e is [string, string] => typeof e[1] === 'string'));
  try {
    const result = operation({
      params,
      input: req.method === 'POST' ? (req.body ?? {}) : req.query,
      origin: { requestId: locals.requestId, idempotencyKey: locals.idempotencyKey },
      apiVersion: req.get('stripe-version') ?? EVENT_API_VERSION,
    });
    return { status: result.status ?? 200, body: result.body, saved: true };
  } catch (err) {
    if (err instanceof StripeApiError) return { status: err.status, body: err.toJSON(), saved: err.savedForIdempotency };
    throw err;
  }
}

/** Stripe's API keys: `Bearer` (what the SDK sends) or Basic with the key as user (what curl -u sends). */
const authenticate: RequestHandler = (req, res, next) => {
  const header = req.get('authorization') ?? '';
  const [scheme, credentials = ''] = header.split(' ');
  const key =
    scheme?.toLowerCase() === 'bearer'
      ? credentials
      : scheme?.toLowerCase() === 'basic'
        ? Buffer.from(credentials, 'base64').toString('utf8').split(':')[0]
        : undefined;
  if (!key) {
    return send(res, unauthorized("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."));
  }
  if (!/^(sk|rk)_test_\w+$/.test(key)) {
    // Never echo the key: a live key pasted by mistake must not land in a log or a response.
    return send(res, unauthorized('Invalid API Key provided. The Stripe emulator accepts test mode secret keys only (sk_test_...).'));
  }
  (res.locals as ApiLocals).apiKey = key;
  next();
};

function unauthorized(message: string) {
  return { status: 401, body: { error: { type: 'invalid_request_error', message } } };
}

const RATE_LIMIT_MESSAGE = 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.';
const LOCK_TIMEOUT_MESSAGE =
  'This object cannot be accessed right now because another API request or Stripe process is currently accessing it. ' +
  'If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate.';

/**
 * An injected failure as Stripe words it. `Stripe-Should-Retry` is the header the SDK obeys before
 * anything else: `true` for a lock timeout (retrying will likely work), `false` for a 5xx whose result
 * was saved for the key (a retry would only replay it); absent for a rate limit (the SDK does not
 * retry 429s) and for a 5xx before execution (the SDK retries 5xx by default).
 */
function injectedFault(error: InjectedError): Answer {
  if (error.status === 429) {
    const lock = error.code === 'lock_timeout';
    return {
      status: 429,
      body: { error: { type: 'invalid_request_error', code: error.code, doc_url: docUrl(error.code), message: lock ? LOCK_TIMEOUT_MESSAGE : RATE_LIMIT_MESSAGE } },
      headers: lock ? { 'Stripe-Should-Retry': 'true' } : { 'Stripe-Rate-Limited-Reason': 'global-rate' },
    };
  }
  return {
    status: error.status,
    body: { error: { type: 'api_error', message: `Injected fault: the Stripe emulator answered ${error.status} as asked through /_emulator/faults.` } },
    ...(error.phase === 'before_execute' ? {} : { headers: { 'Stripe-Should-Retry': 'false' } }),
  };
}

function send(res: Response, { status, body, headers }: Answer): void {
  if (headers) res.set(headers);
  // Stripe pretty-prints its JSON; doing the same keeps byte-level behaviour (Content-Length) alike.
  res.status(status).type('application/json').send(JSON.stringify(body, null, 2));
}

/** One log line per request, and one request-log entry per `/v1` call for /_emulator/state. */
function requestLog(logger: Logger, store: EmulatorStore): RequestHandler {
  return (req, res, next) => {
    const locals = res.locals as ApiLocals;
    // Captured now: routers mounted under a prefix rewrite req.path while they run.
    const path = req.path;
    const isApi = path.startsWith('/v1/');
    locals.requestId = newId('req');
    locals.startedAt = Date.now();
    locals.idempotencyKey = req.get('idempotency-key') ?? null;
    locals.replayed = false;
    locals.fault = null;
    locals.latencyMs = null;
    locals.paymentIntent = null;
    locals.metadata = null;
    if (isApi) {
      res.set({ 'Request-Id': locals.requestId, 'Stripe-Version': req.get('stripe-version') ?? EVENT_API_VERSION });
      if (locals.idempotencyKey) res.set('Idempotency-Key', locals.idempotencyKey);
    }
    res.on('finish', () => {
      const durationMs = Date.now() - locals.startedAt;
      if (isApi) {
        store.logRequest({
          at: new Date(locals.startedAt).toISOString(),
          requestId: locals.requestId,
          method: req.method,
          path,
          idempotencyKey: locals.idempotencyKey,
          status: res.statusCode,
          replayed: locals.replayed,
          fault: locals.fault,
          latencyMs: locals.latencyMs,
          paymentIntent: locals.paymentIntent,
          metadata: locals.metadata,
          durationMs,
        });
      }
      // Path only: query strings and bodies may hold customer data; headers hold keys.
      const line = {
        method: req.method,
        path,
        status: res.statusCode,
        durationMs,
        ...(isApi ? { requestId: locals.requestId } : {}),
        ...(locals.idempotencyKey ? { idempotencyKey: locals.idempotencyKey } : {}),
        ...(locals.replayed ? { replayed: true } : {}),
        ...(locals.fault ? { fault: locals.fault } : {}),
      };
      if (path === '/_emulator/health') logger.debug(line, 'request');
      else logger.info(line, 'request');
    });
    next();
  };
}

function paymentIntentIn(body: unknown): string | null {
  const b = body as { object?: string; id?: string; payment_intent?: unknown; error?: { payment_intent?: { id?: string } } } | null;
  if (b?.object === 'payment_intent' && typeof b.id === 'string') return b.id;
  if (typeof b?.payment_intent === 'string') return b.payment_intent;
  return b?.error?.payment_intent?.id ?? null;
}

function metadataIn(input: unknown): Metadata | null {
  const metadata = (input as { metadata?: unknown } | null)?.metadata;
  return metadata && typeof metadata === 'object' ? (metadata as Metadata) : null;
}
