import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type Request, type RequestHandler } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { createAdmission } from '../application/checkouts/admission';
import { createBuyerPresence } from '../application/checkouts/buyer-presence';
import { createPaymentActions } from '../application/checkouts/payment-action';
import { usesStripeEmulator, type Config } from '../config';
import { serializeError, type Logger } from '../logger';
import { createAccessTokens } from '../application/sign-in/access-token';
import { clientAddressKey, trustProxySetting } from './client-address';
import { resolveApiDeps, type ApiDeps } from './deps';
import { createApiMetrics, httpMetricsMiddleware } from './metrics';
import { errorHandler, notFoundHandler, sendProblem } from './problem';
import { createRateLimits } from './rate-limits';
import { checkoutRoutes } from './routes/checkouts';
import type { ApiContext } from './routes/context';
import { docsRoutes } from './routes/docs';
import { healthRoutes } from './routes/health';
import { meRoutes } from './routes/me';
import { pageRoutes } from './routes/page';
import { productRoutes } from './routes/products';
import { ssoApiRoutes, ssoBrowserRoutes } from './routes/sso';
import { stripeWebhookRoutes } from './routes/stripe-webhooks';

export type { ApiDeps, ApiTimeouts } from './deps';

/** Beyond the longest a checkout can wait on 3-D Secure, a checkout still "in progress" is stuck and frees its client's slot. */
const PER_CLIENT_ADMISSION_MARGIN_MS = 120_000;

/** A JSON API body never needs more; a bigger one is a mistake or an attempt to tie up the parser. */
export const JSON_BODY_LIMIT = '32kb';

export function createApp(given: ApiDeps): Express {
  const deps = resolveApiDeps(given);
  const admission = createAdmission({
    limit: deps.config.CHECKOUT_MAX_IN_FLIGHT,
    perClient: { limit: deps.config.CHECKOUT_MAX_IN_FLIGHT_PER_CLIENT, windowMs: deps.config.PAYMENT_ACTION_TIMEOUT_MS + PER_CLIENT_ADMISSION_MARGIN_MS },
  });
  const clientKey = (req: Request) => clientAddressKey(deps.config.SSO_SECRET, req.ip);
  // Three chances per abandon window: one lost signal never makes a followed challenge look abandoned.
  const buyerPresence = createBuyerPresence(deps.temporal, { everyMs: Math.floor(deps.config.PAYMENT_ABANDON_AFTER_MS / 3) });
  const ctx: ApiContext = {
    deps,
    metrics: createApiMetrics(deps.metrics),
    accessTokens: createAccessTokens({ ssoSecret: deps.config.SSO_SECRET, ttlSeconds: deps.config.ACCESS_TOKEN_TTL_SECONDS }),
    limits: createRateLimits(deps.db, deps.config, { keyOf: clientKey, sweepExpired: deps.sweepExpiredRateLimits ?? false }),
    clientKey,
    paymentActions: createPaymentActions(deps.stripe, { timeoutMs: deps.timeouts.stripeReadMs }),
    checkoutDeps: (req) => ({
      db: deps.db,
      temporal: deps.temporal,
      config: deps.config,
      logger: req.log,
      timeouts: deps.timeouts,
      admission,
      buyerPresence,
      ...(deps.statusFeed ? { statusFeed: deps.statusFeed } : {}),
    }),
  };

  const app = express();
  app.disable('x-powered-by');
  // req.ip: the TCP peer, or the client named by the proxies TRUST_PROXY lists (client-address.ts).
  app.set('trust proxy', trustProxySetting(deps.config.TRUST_PROXY));
  app.use(requestLogging(deps.logger));
  app.use(httpMetricsMiddleware(ctx.metrics));
  app.use(securityHeaders(deps.config));

  app.use(healthRoutes(ctx));
  app.use(stripeWebhookRoutes(ctx));

  const api = express.Router();
  api.use(requireJsonBody);
  api.use(express.json({ limit: JSON_BODY_LIMIT, type: ['application/json', 'application/*+json'] }));
  api.use(productRoutes(ctx));
  api.use('/checkouts', checkoutRoutes(ctx));
  api.use(ssoApiRoutes(ctx));
  api.use(meRoutes(ctx));
  app.use('/api', api);

  app.use(ssoBrowserRoutes(ctx));
  app.use(docsRoutes());
  app.use(pageRoutes());

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

/**
 * pino-http gives every request an id (the caller's `X-Request-Id` when it is sane, else a new
 * UUID), echoes it, and binds it to `req.log`, so every line a request causes carries it.
 */
function requestLogging(logger: Logger) {
  return pinoHttp({
    logger,
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'requestId' },
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    // 503 is a dependency outage the error middleware already logged as such, not a bug.
    customLogLevel: (_req, res, err) => (res.statusCode === 503 ? 'warn' : err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    autoLogging: { ignore: (req) => ['/healthz', '/readyz'].includes(req.url ?? '') },
    serializers: {
      // No headers (cookies, bearer tokens, signatures) and no token in a logged URL.
      req: (req: { id: unknown; method: string; url: string }) => ({ method: req.method, url: redactUrl(req.url) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      // pino-http's own default would replace the logger's, and repeat a failed query's parameters.
      err: serializeError,
    },
  });
}

function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|access_token)=)[^&#]*/gi, '$1[redacted]');
}

/**
 * helmet's defaults, with a CSP that lets the page run its own script and nothing else, plus
 * Stripe.js (real key) or the emulator's 3-D Secure page (local) in a frame. HSTS and
 * upgrade-insecure-requests only where the app is served over HTTPS.
 */
function securityHeaders(config: Config): RequestHandler {
  const https = config.APP_URL.startsWith('https:');
  const stripeJs = Boolean(config.STRIPE_PUBLISHABLE_KEY) && !usesStripeEmulator(config);
  const emulatorOrigin = usesStripeEmulator(config) && config.STRIPE_API_URL ? new URL(config.STRIPE_API_URL).origin : undefined;
  return helmet({
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'script-src': ["'self'", ...(stripeJs ? ['https://js.stripe.com'] : [])],
        'connect-src': ["'self'", ...(stripeJs ? ['https://api.stripe.com'] : [])],
        'frame-src': ["'self'", ...(stripeJs ? ['https://js.stripe.com', 'https://hooks.stripe.com'] : []), ...(emulatorOrigin ? [emulatorOrigin] : [])],
        'img-src': ["'self'", 'data:'],
        'upgrade-insecure-requests': https ? [] : null,
      },
    },
    strictTransportSecurity: https,
  });
}

/** A POST to the JSON API with a body in any other media type is refused before parsing (415). */
const requireJsonBody: RequestHandler = (req, res, next) => {
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  if (!hasBody || !['POST', 'PUT', 'PATCH'].includes(req.method) || req.is(['application/json', 'application/*+json'])) return next();
  sendProblem(req, res, {
    status: 415,
    code: 'unsupported-media-type',
    title: 'Unsupported media type',
    detail: 'Send the body as application/json.',
  });
};
