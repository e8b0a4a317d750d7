import type { Attributes, Context } from '@opentelemetry/api';
import { isAttributeValue } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { serializeError } from '../logger';

/**
 * A span says no more than a log line may. A trace backend is one more place that keeps what it is
 * sent, read by more people than the database, so what the logger keeps out stays out here too:
 * - query strings: `/sso/callback?token=...` carries a sign-in token (the request log redacts it);
 * - the client's address: the API keeps only a keyed hash of it;
 * - customer emails and query parameters in error texts: the Temporal SDK records an activity's
 *   failure on its span as thrown, and drizzle puts a query's parameters into its message;
 * - anything that is no attribute value at all (an object copied out of the workflow sandbox).
 * Applied to every span on its way to the exporter, the workflow spans from the worker's sink included.
 */
export function withoutPersonalData(next: SpanProcessor): SpanProcessor {
  return {
    onStart: (span: Span, parentContext: Context) => next.onStart(span, parentContext),
    onEnd: (span: ReadableSpan) => next.onEnd(redacted(span)),
    forceFlush: () => next.forceFlush(),
    shutdown: () => next.shutdown(),
  };
}

/** Peer and client addresses, in the old and the stable HTTP conventions (http.client_ip is X-Forwarded-For's). */
const ADDRESS_ATTRIBUTES = new Set(['net.peer.ip', 'net.sock.peer.addr', 'http.client_ip', 'client.address', 'network.peer.address']);
/** Attributes that hold a URL or its query. */
const URL_ATTRIBUTES = new Set(['http.url', 'http.target', 'url.full']);
const QUERY_ATTRIBUTES = new Set(['url.query']);

export function redacted(span: ReadableSpan): ReadableSpan {
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => span.spanContext(),
    ...(span.parentSpanId !== undefined ? { parentSpanId: span.parentSpanId } : {}),
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status.message === undefined ? span.status : { ...span.status, message: safeText(span.status.message) },
    attributes: safeAttributes(span.attributes),
    links: span.links,
    events: span.events.map((e) => (e.attributes ? { ...e, attributes: safeAttributes(e.attributes) } : e)),
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationLibrary: span.instrumentationLibrary,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}

function safeAttributes(attributes: Attributes): Attributes {
  const safe: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) {
    // Objects are no attribute values: only spans copied out of the workflow sandbox can hold them.
    if (ADDRESS_ATTRIBUTES.has(key) || QUERY_ATTRIBUTES.has(key) || !isAttributeValue(value)) continue;
    if (typeof value !== 'string') safe[key] = value;
    else safe[key] = safeText(URL_ATTRIBUTES.has(key) ? value.replace(/\?.*$/s, '') : value);
  }
  return safe;
}

/** The logger's rule for free text (no email addresses), and drizzle's `params:` line emptied. */
function safeText(text: string): string {
  return (serializeError(text) as string).replace(/^params: .*$/gm, 'params: [redacted]');
}
