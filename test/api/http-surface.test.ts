import { Writable } from 'node:stream';
import pino from 'pino';
import { startTestApi, startVariantApp, type TestApi } from './support';

/** What every client sees regardless of endpoint: errors, headers, health, metrics, the catalog. */
describe('the HTTP surface of the API', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api?.close();
  });

  describe('GET /api/products', () => {
    it('lists the catalog with price in minor units, currency and stock', async () => {
      const sku = await api.h.seedProduct({ stock: 7, priceMinor: 1999, currency: 'EUR', name: 'Catalog probe' });
      const res = await api.request<{ products: Record<string, unknown>[] }>('GET', '/api/products');

      expect(res.status).toBe(200);
      expect(res.body.products.find((p) => p.sku === sku)).toEqual({
        sku,
        name: 'Catalog probe',
        description: '',
        price: 1999,
        currency: 'EUR',
        stockAvailable: 7,
      });
    });
  });

  describe('errors', () => {
    it('answers an unknown route with a 404 problem', async () => {
      const res = await api.request('GET', '/api/nothing-here');

      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ type: 'urn:checkout-saga:problem:not-found', title: 'Not found', status: 404, instance: '/api/nothing-here' });
    });

    it('answers malformed JSON with a 400 problem and no parser internals', async () => {
      const res = await api.request('POST', '/api/checkouts', { body: '{"customer": {', headers: { 'content-type': 'application/json' } });

      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ type: 'urn:checkout-saga:problem:malformed-json', status: 400, detail: 'The request body could not be parsed as JSON.' });
      expect(res.text).not.toMatch(/SyntaxError|at JSON\.parse|node_modules/);
    });

    it('answers a body over 32 kB with a 413 problem', async () => {
      const huge = { customer: { email: 'big@example.com', name: 'x'.repeat(40_000) }, items: [], paymentMethodId: 'pm_card_visa' };
      const res = await api.request('POST', '/api/checkouts', { json: huge });

      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ type: 'urn:checkout-saga:problem:body-too-large', status: 413 });
    });

    it('answers a body that is not JSON with a 415 problem', async () => {
      const res = await api.request('POST', '/api/checkouts', { body: 'email=a@b.c', headers: { 'content-type': 'application/x-www-form-urlencoded' } });

      expect(res.status).toBe(415);
      expect(res.body).toMatchObject({ type: 'urn:checkout-saga:problem:unsupported-media-type', status: 415 });
    });

    it('answers an unexpected failure with a generic 500 that names only the request id', async () => {
      const variant = await startVariantApp(api, {
        readiness: { check: () => Promise.reject(new Error('secret internal detail: password=hunter2 at /srv/app.js:12')) },
      });
      try {
        const res = await fetch(`${variant.url}/readyz`, { headers: { 'x-request-id': 'req-500-probe' } });
        const text = await res.text();

        expect(res.status).toBe(500);
        expect(JSON.parse(text)).toEqual({
          type: 'urn:checkout-saga:problem:internal-error',
          title: 'Internal server error',
          status: 500,
          detail: 'Something went wrong on our side. If it keeps happening, contact support and quote the request id.',
          instance: '/readyz',
          requestId: 'req-500-probe',
        });
        expect(text).not.toMatch(/hunter2|secret internal|app\.js/);
      } finally {
        await variant.close();
      }
    });
  });

  describe('headers', () => {
    it('echoes a sane X-Request-Id and invents one otherwise', async () => {
      const echoed = await api.request('GET', '/healthz', { headers: { 'x-request-id': 'abc-123' } });
      const invented = await api.request('GET', '/healthz', { headers: { 'x-request-id': 'bad id with spaces and /slashes' } });

      expect(echoed.headers.get('x-request-id')).toBe('abc-123');
      expect(invented.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('puts the request id on every log line a request causes, and never the login token', async () => {
      const lines: Record<string, unknown>[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      });
      const variant = await startVariantApp(api, { logger: pino({ level: 'info' }, sink) });
      try {
        const sku = await api.h.seedProduct();
        const started = await fetch(`${variant.url}/api/checkouts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': 'trace-me-1' },
          body: JSON.stringify({ customer: { email: 'trace@example.com' }, items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_visa' }),
        });
        await fetch(`${variant.url}/sso/callback?token=very-secret-token`, { headers: { 'x-request-id': 'trace-me-2' }, redirect: 'manual' });
        expect(started.status).toBe(202);

        const first = lines.filter((l) => l.requestId === 'trace-me-1');
        expect(first.map((l) => l.msg)).toEqual(expect.arrayContaining(['checkout started', 'request completed']));
        const second = lines.filter((l) => l.requestId === 'trace-me-2');
        expect(second.map((l) => l.msg)).toEqual(expect.arrayContaining(['login token refused', 'request completed']));
        expect(JSON.stringify(lines)).not.toContain('very-secret-token');
      } finally {
        await variant.close();
      }
    });

    it('sends security headers, and a CSP that allows only the page’s own scripts', async () => {
      const res = await api.request('GET', '/');
      const csp = res.headers.get('content-security-policy') ?? '';

      expect(res.status).toBe(200);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('x-powered-by')).toBeNull();
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("default-src 'self'");
      expect(csp).not.toContain('unsafe-eval');
      // The emulator's 3-D Secure page is framed inside the checkout page.
      expect(csp).toContain(`frame-src 'self' ${new URL(api.h.config.STRIPE_API_URL!).origin}`);
    });
  });

  describe('health, readiness and metrics', () => {
    it('GET /healthz says the process is alive', async () => {
      const res = await api.request('GET', '/healthz');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it('GET /readyz checks PostgreSQL, Temporal and Kafka', async () => {
      const res = await api.request('GET', '/readyz');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ready', checks: { postgres: 'ok', temporal: 'ok', kafka: 'ok' } });
    });

    it('GET /metrics on the internal metrics port exposes default metrics and request durations by route pattern, not by raw path', async () => {
      await api.request('GET', '/api/products');
      await api.request('GET', '/api/checkouts/00000000-0000-4000-8000-000000000000');
      const res = await fetch(api.metricsUrl);
      const text = await res.text();

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(text).toContain('process_cpu_user_seconds_total');
      expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/api\/products",status="200"\} \d+/);
      expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/api\/checkouts\/:id",status="404"\} \d+/);
      expect(text).not.toContain('00000000-0000-4000-8000-000000000000');
      expect(text).toContain('checkouts_started_total');
    });

    it('does not serve /metrics on the public port', async () => {
      const res = await api.request('GET', '/metrics');
      expect(res.status).toBe(404);
      expect(res.text).not.toContain('checkouts_started_total');
    });
  });

  describe('the page', () => {
    it('serves the checkout page, its assets and the account page', async () => {
      const page = await api.request('GET', '/');
      const script = await api.request('GET', '/assets/checkout.js');
      const app = await api.request('GET', '/app');

      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.text).toContain('<script src="/assets/checkout.js" defer></script>');
      expect(script.status).toBe(200);
      expect(script.headers.get('content-type')).toMatch(/javascript/);
      expect(app.text).toContain('/assets/app.js');
    });

    it('tells the page to offer test cards when payments go to the emulator', async () => {
      const res = await api.request<{ payments: { mode: string; testCards: { id: string }[] } }>('GET', '/api/config');

      expect(res.body.payments.mode).toBe('test-cards');
      expect(res.body.payments.testCards.map((c) => c.id)).toEqual([
        'pm_card_visa',
        'pm_card_chargeDeclined',
        'pm_card_authenticationRequired',
        'pm_card_processing',
      ]);
    });
  });
});
