import { compileErrors, validate } from '@readme/openapi-parser';
import type { Express } from 'express';
import { forbiddenCharacter } from '../../src/application/validation';
import { startTestApi, type TestApi } from './support';

/**
 * The API's published contract: `GET /openapi.json` describes every route the app has (and none it
 * lacks), is a valid OpenAPI 3.1 document, and keeps what the API's own validation knows. The answers
 * themselves are checked against it by the fuzzer (test/api/fuzz.test.ts).
 */

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, Record<string, unknown>>; schemas: Record<string, unknown> };
}
interface Operation {
  operationId: string;
  parameters?: { name: string; in: string; schema: Record<string, unknown> }[];
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, { properties?: Record<string, Record<string, unknown>> }> } }> };
  responses: Record<string, { content?: Record<string, { schema: { allOf?: { properties?: { type?: { enum?: string[] } } }[] } }> }>;
  security?: Record<string, string[]>[];
}

/** The routes Express will answer, as `METHOD /openapi/{style}` lines: every route layer of every router, mount paths included. */
function routesOf(app: Express): string[] {
  interface Layer {
    route?: { path: unknown; methods: Record<string, boolean> };
    handle: { stack?: Layer[] };
    rawPath?: unknown;
  }
  const found: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        if (typeof layer.route.path !== 'string') throw new Error(`a route under ${prefix || '/'} has a path that is not a string (${String(layer.route.path)}): this test cannot compare it`);
        const methods = Object.keys(layer.route.methods);
        if (methods.includes('_all')) throw new Error(`${prefix}${layer.route.path} answers every method (.all()): describe each one it means`);
        for (const method of methods) found.push(`${method.toUpperCase()} ${openApiPath(prefix + layer.route.path)}`);
      } else if (layer.handle.stack) {
        // A mounted router: its routes live under the mount path (`/api`, `/checkouts`).
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return found.sort();
}

/** `/api/checkouts/:id/` -> `/api/checkouts/{id}`. */
function openApiPath(expressPath: string): string {
  const withParams = expressPath.replace(/:(\w+)/g, '{$1}');
  return withParams.length > 1 ? withParams.replace(/\/+$/, '') : withParams;
}

function operationsOf(document: OpenApiDocument): [string, Operation][] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, operation]) => [`${method.toUpperCase()} ${path}`, operation] as [string, Operation]),
  );
}

describe('the API document (GET /openapi.json)', () => {
  let api: TestApi;
  let document: OpenApiDocument;
  beforeAll(async () => {
    api = await startTestApi();
    const res = await api.request<OpenApiDocument>('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    document = res.body;
  });
  afterAll(async () => {
    await api?.close();
  });

  it('describes every route the app answers, and no route it does not have', () => {
    const routes = routesOf(api.app);
    const described = operationsOf(document).map(([name]) => name);

    // Each line names the route and where its description goes, so the failure says what to do.
    const undescribed = routes.filter((r) => !described.includes(r)).map((r) => `${r}: a route of the app; describe it with registry.registerPath() in src/api/openapi/<area>.ts`);
    const notARoute = described.filter((d) => !routes.includes(d)).map((d) => `${d}: described, but the app has no such route`);

    expect([...undescribed, ...notARoute]).toEqual([]);
    expect(routes).toEqual(expect.arrayContaining(['POST /api/checkouts', 'GET /api/checkouts/{id}', 'POST /api/checkouts/{id}/cancel', 'POST /webhooks/stripe', 'GET /openapi.json']));
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await validate(structuredClone(document) as never);

    expect(result.valid ? 'valid' : compileErrors(result)).toBe('valid');
    expect(result.warnings).toEqual([]);
    expect(document.openapi).toBe('3.1.0');
  });

  it('keeps the formats and limits the API validates with', () => {
    const start = document.paths['/api/checkouts']!.post!;
    const body = start.requestBody!.content['application/json']!.schema.properties!;
    const status = document.paths['/api/checkouts/{id}']!.get!;

    expect(body.customer!.properties!.email).toEqual({ type: 'string', maxLength: 254, format: 'email' });
    expect(status.parameters!.find((p) => p.name === 'id')!.schema).toEqual({ type: 'string', format: 'uuid' });
    expect(status.parameters!.find((p) => p.name === 'waitForChangeMs')!.schema).toEqual({ type: 'integer', minimum: 0, maximum: 30_000 });
    expect(start.parameters!.find((p) => p.name === 'Idempotency-Key')).toMatchObject({ in: 'header', required: false, schema: { maxLength: 255 } });
    // The API refuses an event id that does not start `evt_`; so must the document (a fuzzer finding).
    expect(document.components.schemas.StripeEvent).toMatchObject({ properties: { id: { pattern: '^evt_[\\w-]*$' } } });
  });

  it('shows which characters typed text may hold, as the API decides it', () => {
    const start = document.paths['/api/checkouts']!.post!.requestBody!.content['application/json']!.schema.properties!;
    const cancel = document.paths['/api/checkouts/{id}/cancel']!.post!.requestBody!.content['application/json']!.schema.properties!;
    const name = start.customer!.properties!.name!.pattern as string;
    const reason = (cancel as unknown as Record<string, { pattern: string }>).reason!.pattern;
    const samples = ['Ada Lovelace', '  Ada\n', '\tAda', 'Ada\tLovelace', 'Ada\u0000', 'Ada\u0085', 'Ada\u202eecalevol', 'عائشة', 'Zoë \u200f', '', '   '];
    // What the API does: trim, then refuse a forbidden character (and, for a reason, nothing left).
    const accepted = (text: string, nonBlank: boolean) => forbiddenCharacter(text.trim()) === undefined && (!nonBlank || text.trim() !== '');

    expect(samples.map((text) => new RegExp(name).test(text))).toEqual(samples.map((text) => accepted(text, false)));
    expect(samples.map((text) => new RegExp(reason).test(text))).toEqual(samples.map((text) => accepted(text, true)));
  });

  it('answers every error with a problem document whose possible types are listed', () => {
    const untyped = operationsOf(document).flatMap(([name, operation]) =>
      Object.entries(operation.responses)
        .filter(([status]) => Number(status) >= 400)
        // The one HTML error: the "link expired" page a browser lands on.
        .filter(([status]) => !(name === 'GET /sso/callback' && status === '401'))
        .filter(([, response]) => !response.content?.['application/problem+json']?.schema.allOf?.[1]?.properties?.type?.enum?.length)
        .map(([status]) => `${name} ${status}`),
    );

    expect(untyped).toEqual([]);
    const startProblems = (status: string) => document.paths['/api/checkouts']!.post!.responses[status]!.content!['application/problem+json']!.schema.allOf![1]!.properties!.type!.enum;
    expect(startProblems('422')).toEqual(['urn:checkout-saga:problem:unknown-sku', 'urn:checkout-saga:problem:mixed-currencies', 'urn:checkout-saga:problem:idempotency-key-reused']);
    expect(startProblems('503')).toEqual(['urn:checkout-saga:problem:service-unavailable', 'urn:checkout-saga:problem:checkouts-busy']);
  });

  it('names what each route needs to be called: the checkout’s secret, an access token, Stripe’s signature', () => {
    const securityOf = (path: string, method: string) => document.paths[path]![method]!.security;

    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(['bearerAccessToken', 'checkoutSecretCookie', 'checkoutSecretHeader', 'sessionCookie', 'stripeSignature']);
    expect(document.components.securitySchemes.checkoutSecretHeader).toMatchObject({ type: 'apiKey', in: 'header', name: 'Checkout-Secret' });
    expect(securityOf('/api/checkouts/{id}', 'get')).toEqual([{ checkoutSecretHeader: [] }, { checkoutSecretCookie: [] }]);
    expect(securityOf('/api/me/orders', 'get')).toEqual([{ bearerAccessToken: [] }, { sessionCookie: [] }]);
    expect(securityOf('/webhooks/stripe', 'post')).toEqual([{ stripeSignature: [] }]);
    expect(securityOf('/api/checkouts', 'post')).toEqual([]);
  });

  it('is served with the API reference page, whose scripts and styles come from this API', async () => {
    const page = await api.request('GET', '/docs');
    const bundle = await api.request('GET', '/docs/assets/swagger-ui-bundle.js');
    const elsewhere = await api.request('GET', '/docs/assets/index.html');

    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect([...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])).toEqual(['data:,', '/docs/assets/swagger-ui.css', '/docs/assets/swagger-ui-bundle.js', '/assets/docs.js', '/openapi.json']);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    // The package's own demo page (which loads a remote document) is not served.
    expect(elsewhere.status).toBe(404);
  });
});
