import { OpenApiGeneratorV31, OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { describeCatalog } from './catalog';
import { describeCheckouts } from './checkouts';
import { registerHeaders, registerSecuritySchemes } from './common';
import { describeOperations } from './operations';
import { describePages } from './pages';
import { describePayments } from './payments';
import { describeSignIn } from './sign-in';

/**
 * The API's OpenAPI 3.1 document, generated from the zod schemas the routes validate with (and,
 * for answers, schemas checked against the types the handlers send). Served at `GET /openapi.json`.
 *
 * A new route is described in the file of its area with one `registry.registerPath({ method, path,
 * operationId, request, responses })`: its parameters and body as the zod schemas its handler parses,
 * each status it can answer with its schema and headers (`problemResponse` for problem documents).
 * test/api/openapi.test.ts fails while a route of the app is missing here, and `npm run fuzz` checks
 * the answers against what is written.
 */

/** The contract's own version: a change that breaks a client raises it. */
export const API_VERSION = '1.0.0';

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

const AREAS = [describeCheckouts, describeCatalog, describeSignIn, describePayments, describeOperations, describePages];

const TAGS = [
  { name: 'checkouts', description: 'Start a checkout, follow its saga, cancel it.' },
  { name: 'catalog', description: 'What can be bought, and how this deployment takes payments.' },
  { name: 'sign-in', description: 'The one-time sign-in link a completed checkout offers.' },
  { name: 'customer', description: 'What a signed-in customer may read.' },
  { name: 'payments', description: 'Stripe’s webhooks.' },
  { name: 'operations', description: 'Liveness and readiness.' },
  { name: 'pages', description: 'The pages a browser loads, and this document.' },
];

let generated: OpenApiDocument | undefined;

/** Built once per process, on first use: createApp() asks for it, so a description that cannot be generated fails the start. */
export function openApiDocument(): OpenApiDocument {
  generated ??= generate();
  return generated;
}

function generate(): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registerSecuritySchemes(registry);
  registerHeaders(registry);
  for (const describe of AREAS) describe(registry);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'checkout-saga',
      version: API_VERSION,
      description:
        'Checkouts as durable sagas: `POST /api/checkouts` answers at once and the saga reserves the stock, takes the payment through Stripe, creates the account and confirms the order, undoing its steps when one fails or the buyer cancels. Errors are `application/problem+json` (RFC 9457) whose `type` is `urn:checkout-saga:problem:<slug>`; every answer carries `X-Request-Id`.',
    },
    // Relative: the API that serves this document is the one it describes, whatever its public URL.
    servers: [{ url: '/' }],
    tags: TAGS,
  });
}
