import { IncomingMessage } from 'node:http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';

/** Asked every few seconds by orchestrators: a trace each would bury the ones worth reading. */
const PROBES = new Set(['/healthz', '/readyz']);

/**
 * HTTP spans: one server span per request to the API (the root of a checkout's trace), one client
 * span per outgoing call made inside a traced operation (Stripe, from an activity). An outgoing call
 * outside any trace starts none, so a background call never becomes a trace of its own.
 */
export function httpInstrumentation(): HttpInstrumentation {
  return new HttpInstrumentation({
    ignoreIncomingRequestHook: (request) => PROBES.has(pathOf(request.url)),
    requireParentforOutgoingSpans: true,
    applyCustomAttributesOnSpan: (span, request) => {
      if (!(request instanceof IncomingMessage)) return;
      const route = expressRoute(request);
      if (!route) return;
      span.setAttribute('http.route', route);
      span.updateName(`${request.method ?? 'GET'} ${route}`);
    },
  });
}

function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?')[0] ?? '/';
}

/**
 * The route pattern Express matched (`/api/checkouts/:id`), read from the request once it is
 * answered: a span name of bounded cardinality that says which endpoint it was, without the ids.
 * Undefined for a request no route took (a 404, a static file): its span keeps the method as name.
 */
function expressRoute(request: IncomingMessage): string | undefined {
  const { route, baseUrl } = request as IncomingMessage & { route?: { path?: unknown }; baseUrl?: unknown };
  if (typeof route?.path !== 'string') return undefined;
  const full = `${typeof baseUrl === 'string' ? baseUrl : ''}${route.path}`;
  return full.length > 1 ? full.replace(/\/$/, '') : full;
}
