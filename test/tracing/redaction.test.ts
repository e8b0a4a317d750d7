import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { DrizzleQueryError } from 'drizzle-orm';
import { withoutPersonalData } from '../../src/tracing/redaction';

/**
 * What a span may carry out of the process: no more than a log line. Spans made with the SDK and
 * ended as the HTTP instrumentation and the Temporal interceptors end them, read as the exporter gets them.
 */
describe('spans on their way to the exporter', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [withoutPersonalData(new SimpleSpanProcessor(exporter))] });
  const tracer = provider.getTracer('test');
  afterAll(() => provider.shutdown());

  it('lose the query string, with the sign-in token in it, and the client address of a request', () => {
    tracer
      .startSpan('GET /sso/callback', {
        kind: SpanKind.SERVER,
        attributes: {
          'http.url': 'https://shop.example/sso/callback?token=s3cr3t-login-token',
          'http.target': '/sso/callback?token=s3cr3t-login-token',
          'url.query': 'token=s3cr3t-login-token',
          'http.client_ip': '203.0.113.7',
          'net.peer.ip': '203.0.113.7',
          'client.address': '203.0.113.7',
          'http.status_code': 303,
        },
      })
      .end();

    const [span] = exporter.getFinishedSpans();
    expect(span?.attributes).toEqual({ 'http.url': 'https://shop.example/sso/callback', 'http.target': '/sso/callback', 'http.status_code': 303 });
  });

  it('keep the customer email and the query parameters out of a recorded failure', () => {
    exporter.reset();
    const failure = new DrizzleQueryError('insert into "users" ("email", "name") values ($1, $2)', ['ada@example.com', 'Ada Lovelace'], new Error('duplicate key'));
    const span = tracer.startSpan('RunActivity:createUser');
    span.recordException(failure);
    span.recordException(new Error('550 5.1.1 <ada@example.com>: Recipient address rejected'));
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    span.end();

    const [exported] = exporter.getFinishedSpans();
    expect(JSON.stringify(exported)).not.toMatch(/ada@example\.com|Ada Lovelace/);
    expect(exported?.status.message).toBe('Failed query: insert into "users" ("email", "name") values ($1, $2)\nparams: [redacted]');
    expect(exported?.events.map((e) => e.attributes?.['exception.message'])).toEqual([
      'Failed query: insert into "users" ("email", "name") values ($1, $2)\nparams: [redacted]',
      '550 5.1.1 <[email]>: Recipient address rejected',
    ]);
  });
});
