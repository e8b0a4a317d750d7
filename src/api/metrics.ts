import express, { type Express, type Request, type RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Histogram, type Registry } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  checkoutsStarted: Counter;
  checkoutsShed: Counter;
}

/** Registers the API's metrics in `registry` (once per registry, so tests may build many apps). */
export function createApiMetrics(registry: Registry): ApiMetrics {
  if (!registry.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics({ register: registry });
  const httpRequestDuration =
    (registry.getSingleMetric('http_request_duration_seconds') as Histogram<'method' | 'route' | 'status'> | undefined) ??
    new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'] as const,
      // Long-polls of the status endpoint run up to 30 s, hence the top buckets.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  const checkoutsStarted =
    (registry.getSingleMetric('checkouts_started_total') as Counter | undefined) ??
    new Counter({ name: 'checkouts_started_total', help: 'Checkouts accepted and handed to the saga (idempotent replays excluded)', registers: [registry] });
  const checkoutsShed =
    (registry.getSingleMetric('checkouts_shed_total') as Counter | undefined) ??
    new Counter({ name: 'checkouts_shed_total', help: 'New checkouts refused with 503 because CHECKOUT_MAX_IN_FLIGHT were in progress', registers: [registry] });
  return { registry, httpRequestDuration, checkoutsStarted, checkoutsShed };
}

/** Labels by route pattern, never by raw path: a checkout id per label would explode the series. */
export function httpMetricsMiddleware(metrics: ApiMetrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.httpRequestDuration.startTimer();
    res.on('finish', () => stop({ method: req.method, route: routeLabel(req), status: String(res.statusCode) }));
    next();
  };
}

/**
 * `req.baseUrl` is reset by the time an error has left its router, so the mount prefix is recovered
 * from the URL instead: the route's own pattern covers the last N segments of the path.
 */
function routeLabel(req: Request): string {
  const route = req.route as { path?: unknown } | undefined;
  if (route && typeof route.path === 'string') {
    const own = route.path.split('/').filter(Boolean);
    const segments = (req.originalUrl.split('?')[0] ?? '').split('/').filter(Boolean);
    const prefix = segments.slice(0, Math.max(0, segments.length - own.length));
    return `/${[...prefix, ...own].join('/')}`;
  }
  if (req.path.startsWith('/assets/')) return '/assets';
  return 'unmatched';
}

/**
 * The API's Prometheus endpoint as an app of its own, served on API_METRICS_PORT: business volume
 * and process internals are for the scraper inside the deployment, not for the public port.
 */
export function createMetricsApp(registry: Registry): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', registry.contentType).send(await registry.metrics());
  });
  return app;
}
