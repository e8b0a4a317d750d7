import type { OpenAPIRegistry, ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { CHECKOUT_SECRET_COOKIE, CHECKOUT_SECRET_HEADER } from '../../application/checkouts/checkout-secret';
import { SESSION_COOKIE } from '../auth';
import { PROBLEM_CONTENT_TYPE, problemType } from '../problem';
import { z } from 'zod';

type HeadersObject = Exclude<ResponseConfig['headers'], z.ZodObject | undefined>;

/**
 * `true` only when A and B are assignable both ways: `const _x: Exactly<z.output<typeof S>, T> = true`
 * stops compiling when a response schema and the type its handler sends drift apart.
 */
export type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;

/**
 * What every area of the document shares: the security schemes, the response headers, and the
 * problem documents (RFC 9457) with the `type` URIs each answer can carry.
 */

type SecurityRequirements = Record<string, string[]>[];

/** The names of the security schemes in `components.securitySchemes`, as operations list them (any one of each list will do). */
export const security: Record<'checkoutSecret' | 'customer' | 'stripe' | 'none', SecurityRequirements> = {
  /** The checkout's secret: what makes a checkout's status and cancel its buyer's (auth.ts). */
  checkoutSecret: [{ checkoutSecretHeader: [] }, { checkoutSecretCookie: [] }],
  /** A customer's access token, from a redeemed sign-in link. */
  customer: [{ bearerAccessToken: [] }, { sessionCookie: [] }],
  /** Stripe's signature over the raw body. */
  stripe: [{ stripeSignature: [] }],
  /** Open to anyone. */
  none: [],
};

export function registerSecuritySchemes(registry: OpenAPIRegistry): void {
  registry.registerComponent('securitySchemes', 'checkoutSecretHeader', {
    type: 'apiKey',
    in: 'header',
    name: CHECKOUT_SECRET_HEADER,
    description:
      "The `checkoutSecret` that `POST /api/checkouts` answered with. Without it (or with a wrong one) a checkout's status and cancel answer 404, word for word the answer for an id nobody used.",
  });
  registry.registerComponent('securitySchemes', 'checkoutSecretCookie', {
    type: 'apiKey',
    in: 'cookie',
    name: CHECKOUT_SECRET_COOKIE,
    description: 'The same secret as the HttpOnly, SameSite=Strict cookie `POST /api/checkouts` sets on `/api/checkouts/<checkoutId>`: what the buyer’s browser sends.',
  });
  registry.registerComponent('securitySchemes', 'bearerAccessToken', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'The `accessToken` of `POST /api/sso/redeem`: an HS256 JWT, valid for ACCESS_TOKEN_TTL_SECONDS.',
  });
  registry.registerComponent('securitySchemes', 'sessionCookie', {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description: 'The same access token as the HttpOnly cookie `GET /sso/callback` sets: what the account page sends.',
  });
  registry.registerComponent('securitySchemes', 'stripeSignature', {
    type: 'apiKey',
    in: 'header',
    name: 'Stripe-Signature',
    description: "Stripe's signature of the raw body with STRIPE_WEBHOOK_SECRET (`t=<seconds>,v1=<hex HMAC>`), at most 5 minutes old.",
  });
}

const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });

export function registerHeaders(registry: OpenAPIRegistry): void {
  registry.registerComponent('headers', 'X-Request-Id', {
    description: 'The id of this request in the service’s logs: the caller’s own `X-Request-Id` when it is sane, else a new UUID. Quote it to support.',
    required: true,
    schema: { type: 'string', pattern: '^[\\w.:-]{1,128}$' },
  });
  registry.registerComponent('headers', 'Retry-After', {
    description: 'Seconds to wait before trying again.',
    required: true,
    schema: { type: 'integer', minimum: 1 },
  });
  registry.registerComponent('headers', 'Location', {
    description: 'The checkout’s status URL.',
    required: true,
    schema: { type: 'string', format: 'uri-reference', pattern: '^/api/checkouts/[0-9a-f-]{36}$' },
  });
  registry.registerComponent('headers', 'Cache-Control', {
    description: 'The body may hold a secret or a sign-in link: no cache may keep it.',
    required: true,
    schema: { type: 'string', const: 'no-store' },
  });
}

/** Every response carries its request id; `more` adds the headers of that answer. */
export function headers(more: HeadersObject = {}): HeadersObject {
  return { 'X-Request-Id': headerRef('X-Request-Id'), ...more };
}

export const retryAfter = { 'Retry-After': headerRef('Retry-After') };
export const location = { Location: headerRef('Location') };
export const noStore = { 'Cache-Control': headerRef('Cache-Control') };

/** A JSON answer of `schema`. */
export function jsonResponse(description: string, schema: z.ZodType, more: HeadersObject = {}): ResponseConfig {
  return { description, headers: headers(more), content: { 'application/json': { schema } } };
}

export const FieldError = z
  .strictObject({
    field: z.string().meta({ description: 'Where in the request: `customer.email`, `items[0].quantity`, `Idempotency-Key`, `token` ...', example: 'items[0].quantity' }),
    message: z.string().meta({ example: 'must be at least 1' }),
  })
  .meta({ id: 'FieldError' });

/** RFC 9457 with this service's members; each answer below narrows `type` and `status` to what it can be. */
export const Problem = z
  .object({
    type: z.string().meta({ description: 'Stable: `urn:checkout-saga:problem:<slug>`; clients may switch on it.' }),
    title: z.string(),
    status: z.int(),
    detail: z.string().optional(),
    instance: z.string().meta({ description: 'The path of the request, never its query string.' }),
    requestId: z.string().meta({ description: 'The same as the `X-Request-Id` header.' }),
  })
  .meta({ id: 'Problem', description: 'A problem document (RFC 9457, `application/problem+json`). Stack traces and internal messages never appear in it.' });

export interface ProblemOptions {
  /** Members some of these problems add (`errors`, `skus` ...), optional unless every one of them has it. */
  extensions?: z.ZodRawShape;
  /** Headers beyond the request id, e.g. `Retry-After`. */
  headers?: HeadersObject;
}

/**
 * An answer of problem documents whose `type` is one of `codes` (slugs, as the error classes of
 * src/application and src/api/problem.ts spell them) and whose `status` is the answer's own.
 */
export function problemResponse(status: number, description: string, codes: readonly [string, ...string[]], options: ProblemOptions = {}): ResponseConfig {
  const uris = codes.map(problemType) as [string, ...string[]];
  const schema = z.intersection(Problem, z.object({ type: z.enum(uris), status: z.literal(status), ...options.extensions }));
  const listed = codes.map((code) => `\`${code}\``).join(', ');
  return {
    description: `${description} (problem ${codes.length > 1 ? 'types' : 'type'} ${listed})`,
    headers: headers(options.headers),
    content: { [PROBLEM_CONTENT_TYPE]: { schema } },
  };
}

/** `errors` of a validation problem: every bad field at once. */
export const fieldErrors = { errors: z.array(FieldError).min(1) };

/**
 * The answers the JSON API's body handling gives every `POST` under `/api` before its handler runs
 * (app.ts, problem.ts): a body that is not JSON, too big, compressed in an unknown way.
 */
export const jsonBodyProblems = {
  413: problemResponse(413, 'The body is over 32 kB', ['body-too-large']),
  415: problemResponse(415, 'The body is not `application/json`, or not UTF-8, or compressed other than gzip or deflate', [
    'unsupported-media-type',
    'unsupported-charset',
    'unsupported-encoding',
  ]),
};

/** A 400 for a body or parameters that are not what the operation takes: the fields named, all at once. */
export function invalidInput(description: string, more: readonly string[] = []): ResponseConfig {
  return problemResponse(400, description, ['validation-failed', ...more], { extensions: { errors: fieldErrors.errors.optional() } });
}
