import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { CHECKOUT_SECRET_HEADER } from '../../application/checkouts/checkout-secret';
import {
  cancelCheckoutSchema,
  checkoutIdSchema,
  idempotencyKeySchema,
  MAX_WAIT_FOR_CHANGE_MS,
  startCheckoutSchema,
  statusQuerySchema,
} from '../../application/checkouts/schemas';
import { CHECKOUT_STATUSES, CHECKOUT_STEPS, FailureCode, type CompensationName, type PaymentStatus } from '../../workflows/checkout/contract';
import type { CheckoutStatusView } from '../checkout-view';
import { MAX_PREFER_WAIT_SECONDS } from '../routes/checkouts';
import {
  type Exactly,
  fieldErrors,
  headers,
  invalidInput,
  jsonBodyProblems,
  jsonResponse,
  location,
  noStore,
  problemResponse,
  retryAfter,
  security,
} from './common';
import { z } from 'zod';

/** `/api/checkouts`: start a checkout, follow it, cancel it (routes/checkouts.ts). */

export const CheckoutStatus = z.enum(CHECKOUT_STATUSES).meta({
  id: 'CheckoutStatus',
  description: 'PENDING and PROCESSING while the saga runs, REQUIRES_ACTION while 3-D Secure waits for the buyer, COMPENSATING while it undoes its steps; it ends COMPLETED, FAILED or CANCELLED, or waits for an operator in NEEDS_ATTENTION.',
});

const PAYMENT_STATUSES = [
  'not_started',
  'requires_confirmation',
  'requires_action',
  'processing',
  'authorized',
  'succeeded',
  'failed',
  'canceled',
  'refunded',
] as const satisfies readonly PaymentStatus[];
const COMPENSATION_NAMES = ['releaseStock', 'refundPayment', 'deleteUser', 'revokeSsoToken'] as const satisfies readonly CompensationName[];

const StartedCheckout = z
  .strictObject({
    checkoutId: z.uuid(),
    status: CheckoutStatus,
    statusUrl: z.string().meta({ description: 'Where to follow it: `GET` this path.', example: '/api/checkouts/7d0e5f0c-8d3e-4c1a-9a51-2f7b0f0b6c11' }),
    checkoutSecret: z.string().meta({
      description: "The buyer's key to this checkout's status and cancel: send it as the `Checkout-Secret` header. A replay of the Idempotency-Key answers it again.",
    }),
  })
  .meta({ id: 'StartedCheckout' });

const CancelAccepted = z
  .strictObject({
    checkoutId: z.uuid(),
    status: CheckoutStatus,
    statusUrl: z.string(),
  })
  .meta({ id: 'CancelAccepted', description: 'The cancel was taken: the saga undoes what it did and ends CANCELLED (or it had already).' });

const CheckoutSignIn = z
  .union([
    z.strictObject({ redirectUrl: z.url().meta({ description: 'Single-use sign-in link into the account this checkout created, while it can still be used.' }) }),
    z.strictObject({ delivery: z.literal('email').meta({ description: 'The account already existed: a sign-in link went to its email address instead.' }) }),
  ])
  .meta({ id: 'CheckoutSignIn' });

export const CheckoutStatusViewSchema = z
  .strictObject({
    checkoutId: z.uuid(),
    status: CheckoutStatus,
    step: z
      .string()
      .nullable()
      .meta({ description: `The saga step in progress: ${CHECKOUT_STEPS.map((s) => `\`${s}\``).join(', ')}.` }),
    orderId: z.uuid(),
    amount: z.int().nullable().meta({ description: 'Minor units of `currency`, priced from the catalog; null until the cart is priced.' }),
    currency: z.string().nullable(),
    payment: z.strictObject({
      status: z.enum(PAYMENT_STATUSES),
      clientSecret: z.string().optional().meta({ description: "The PaymentIntent's client secret, for Stripe.js." }),
      nextActionUrl: z.string().optional().meta({ description: 'Where the buyer completes 3-D Secure, while the checkout is REQUIRES_ACTION.' }),
    }),
    failure: z
      .strictObject({
        code: z.string().meta({ description: `Machine-readable: ${Object.values(FailureCode).map((c) => `\`${c}\``).join(', ')}.` }),
        message: z.string(),
      })
      .optional(),
    sso: CheckoutSignIn.optional(),
    compensations: z
      .array(
        z.strictObject({
          name: z.enum(COMPENSATION_NAMES),
          status: z.enum(['pending', 'running', 'done', 'failed']),
          outcome: z.string().optional().meta({ description: 'What the undo did, e.g. "refunded 4200 EUR".' }),
        }),
      )
      .meta({ description: 'The undo of each step done so far, newest first, once the checkout is undone.' }),
    updatedAt: z.iso.datetime(),
    version: z.int().optional().meta({ description: 'Present when the saga answered; pass it back as `sinceVersion` to long-poll.' }),
  })
  .meta({
    id: 'CheckoutStatusView',
    description: "The buyer's view of a checkout: no email, no payment intent id, no account or token ids, no technical errors.",
  });

const _statusViewDescribed: Exactly<z.output<typeof CheckoutStatusViewSchema>, CheckoutStatusView> = true;

const DecidedCheckout = StartedCheckout.extend({
  checkout: CheckoutStatusViewSchema.meta({ description: 'The checkout with its payment decided (or its 3-D Secure challenge open), as `GET statusUrl` would show it.' }),
}).meta({ id: 'DecidedCheckout' });

/** One Server-Sent Event of `GET /api/checkouts/{id}/events`, as a client parses it. */
const StatusEvent = z
  .object({
    id: z.string().regex(/^\d+$/).meta({ description: 'The checkout `version` this event shows: send it back as `Last-Event-ID` to resume.' }),
    data: z.string().meta({ description: 'The JSON of `GET /api/checkouts/{id}` (a CheckoutStatusView) for that version.' }),
  })
  .meta({ id: 'CheckoutStatusEvent' });
const _paymentStatusesListed: Exactly<(typeof PAYMENT_STATUSES)[number], PaymentStatus> = true;
const _compensationsListed: Exactly<(typeof COMPENSATION_NAMES)[number], CompensationName> = true;

const checkoutPath = z.object({
  id: checkoutIdSchema.meta({ param: { description: 'The checkout id (`checkoutId`). Anything that is not a UUID names no checkout: 404.' } }),
});

/** The query as it is validated, each parameter shown as the whole number it must be. */
const statusQuery = statusQuerySchema.extend({
  waitForChangeMs: statusQuerySchema.shape.waitForChangeMs.meta({
    type: 'integer',
    minimum: 0,
    maximum: MAX_WAIT_FOR_CHANGE_MS,
    pattern: undefined,
    param: { description: 'Long-poll: answer as soon as the checkout changes, or after this many milliseconds. Digits only.' },
  }),
  sinceVersion: statusQuerySchema.shape.sinceVersion.meta({
    type: 'integer',
    minimum: 0,
    maximum: 999_999_999_999_999,
    pattern: undefined,
    param: { description: 'The last `version` you saw: a long-poll answers at once when the checkout is past it. Digits only.' },
  }),
});

/** What the links of a new checkout hand on: its id, and its secret as the header API clients send. */
const ownCheckout = { id: '$response.body#/checkoutId', [`header.${CHECKOUT_SECRET_HEADER}`]: '$response.body#/checkoutSecret' };

/** What every answer that started (or replayed) a checkout carries besides its body. */
const startedHeaders = {
  ...location,
  ...noStore,
  'Set-Cookie': {
    description: 'The checkout’s secret as the `checkout_secret` cookie: HttpOnly, SameSite=Strict, Path=/api/checkouts/<checkoutId>, 24 h.',
    required: true,
    schema: { type: 'string' as const, pattern: '^checkout_secret=' },
  },
  'Idempotent-Replayed': {
    description: 'Present on a replay of an earlier request with the same `Idempotency-Key`.',
    schema: { type: 'string' as const, const: 'true' },
  },
};
const startedLinks = {
  getCheckout: { operationId: 'getCheckout', parameters: ownCheckout, description: 'Follow the new checkout, with its secret.' },
  cancelCheckout: { operationId: 'cancelCheckout', parameters: ownCheckout, description: 'Cancel the new checkout, with its secret.' },
};

const notFound = problemResponse(404, 'No such checkout, or not for this request: without its secret the answer is the same as for an id nobody used', ['checkout-not-found']);
const temporalDown = problemResponse(503, 'Temporal cannot be reached, or no worker took the request in time; nothing was lost', ['service-unavailable'], { headers: retryAfter });

export function describeCheckouts(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/api/checkouts',
    operationId: 'startCheckout',
    tags: ['checkouts'],
    summary: 'Start a checkout',
    description:
      'Records the checkout and starts its saga, and answers at once. Only `customer`, `items` and `paymentMethodId` are read: prices come from the catalog. With an `Idempotency-Key` the same key and cart return the same checkout (`Idempotent-Replayed: true`).',
    security: security.none,
    request: {
      headers: z.object({
        'Idempotency-Key': idempotencyKeySchema.optional().meta({
          param: { description: 'Printable ASCII, up to 255 characters: the same key and the same cart return the same checkout, also when Temporal was unreachable the first time.' },
          example: '3f1c2d9e-5b7a-4e2b-9c1d-8a6f0e4b2d17',
        }),
        Prefer: z
          .string()
          .regex(/^wait=\d{1,2}$/)
          .optional()
          .meta({
            param: {
              description: `RFC 7240 \`wait=N\`: wait up to N seconds (at most ${MAX_PREFER_WAIT_SECONDS}) for the payment's decision and answer \`201\` with the decided checkout; if it is not decided by then, the plain \`202\`.`,
            },
            example: 'wait=5',
          }),
      }),
      body: {
        required: true,
        content: {
          'application/json': {
            schema: startCheckoutSchema,
            example: { customer: { email: 'ada@example.com', name: 'Ada Lovelace' }, items: [{ sku: 'PLAN-TEAM-M', quantity: 1 }], paymentMethodId: 'pm_card_visa' },
          },
        },
      },
    },
    responses: {
      201: {
        ...jsonResponse('With `Prefer: wait=N`: the payment was decided within the wait (paid, declined, processing, or a 3-D Secure challenge to open); `checkout` shows it', DecidedCheckout, startedHeaders),
        links: startedLinks,
      },
      202: {
        ...jsonResponse('Accepted: the saga runs; follow it at `statusUrl` with the secret', StartedCheckout, startedHeaders),
        links: startedLinks,
      },
      400: invalidInput('A field of the body or the `Idempotency-Key` is not valid (also more than MAX_UNITS_PER_SKU units of one product), or the body is not JSON', [
        'malformed-json',
        'request-aborted',
      ]),
      ...jsonBodyProblems,
      422: problemResponse(422, 'A SKU no product has, a cart of several currencies, or an `Idempotency-Key` already used with another body', ['unknown-sku', 'mixed-currencies', 'idempotency-key-reused'], {
        extensions: {
          skus: z.array(z.string()).optional().meta({ description: '`unknown-sku`: the SKUs no product has.' }),
          currencies: z.array(z.string()).optional().meta({ description: '`mixed-currencies`: the currencies of the cart.' }),
          errors: fieldErrors.errors.optional(),
        },
      }),
      429: problemResponse(429, 'This client address started more than RATE_LIMIT_CHECKOUTS_PER_MINUTE a minute, or has CHECKOUT_MAX_IN_FLIGHT_PER_CLIENT in progress', ['rate-limited', 'too-many-checkouts-in-progress'], {
        headers: retryAfter,
      }),
      503: problemResponse(503, 'Temporal cannot be reached, or CHECKOUT_MAX_IN_FLIGHT checkouts are in progress; nothing was charged: retry with the same key', ['service-unavailable', 'checkouts-busy'], {
        headers: retryAfter,
      }),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/checkouts/{id}',
    operationId: 'getCheckout',
    tags: ['checkouts'],
    summary: 'Follow a checkout',
    description:
      "The saga's change feed, or the checkouts row in PostgreSQL (`X-Status-Source`). With `waitForChangeMs` it long-polls: the answer comes as soon as the checkout changes.",
    security: security.checkoutSecret,
    request: { params: checkoutPath, query: statusQuery },
    responses: {
      200: jsonResponse('The checkout as its buyer may see it', CheckoutStatusViewSchema, {
        ...noStore,
        'X-Status-Source': {
          description: "Who answered: the saga's change feed in PostgreSQL (`feed`), the saga itself for a checkout older than the feed (`workflow`), or the checkouts row because neither could (`database`: no `version`, no 3-D Secure details).",
          required: true,
          schema: { type: 'string', enum: ['feed', 'workflow', 'database'] },
        },
      }),
      400: invalidInput('`waitForChangeMs` or `sinceVersion` is not a whole number in range, or the path is not validly percent-encoded', ['bad-request']),
      404: notFound,
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/checkouts/{id}/events',
    operationId: 'streamCheckoutEvents',
    tags: ['checkouts'],
    summary: 'Follow a checkout as Server-Sent Events',
    description:
      'One event per status change, `id` its version; a comment line as heartbeat while nothing changes. The stream ends with the checkout, or after STATUS_EVENTS_MAX_STREAM_MS (the client reconnects with `Last-Event-ID` and misses nothing). Resuming after the ending answers 204, which tells an EventSource to stop.',
    security: security.checkoutSecret,
    request: {
      params: checkoutPath,
      headers: z.object({
        'Last-Event-ID': z
          .string()
          .regex(/^\d{1,15}$/)
          .optional()
          .meta({ param: { description: 'The `id` of the last event received: the stream resumes after it. An EventSource sends it on reconnecting.' } }),
      }),
    },
    responses: {
      200: { description: 'The checkout’s status events', headers: headers(noStore), content: { 'text/event-stream': { schema: StatusEvent } } },
      204: { description: 'The client has the ending already (its `Last-Event-ID` is the final version): nothing more will come', headers: headers(noStore) },
      400: invalidInput('`Last-Event-ID` is not a version', ['bad-request']),
      404: notFound,
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/checkouts/{id}/cancel',
    operationId: 'cancelCheckout',
    tags: ['checkouts'],
    summary: 'Cancel a checkout',
    description: 'Asks the saga to cancel: it undoes the steps done so far, in reverse order, and ends CANCELLED. Refused once the order is being confirmed.',
    security: security.checkoutSecret,
    request: {
      params: checkoutPath,
      body: { required: false, content: { 'application/json': { schema: cancelCheckoutSchema, example: { reason: 'Ordered the wrong plan' } } } },
    },
    responses: {
      202: jsonResponse('Cancel accepted (or the checkout was cancelled already)', CancelAccepted, location),
      400: invalidInput('The `reason` is not valid, the body is not JSON, or the path is not validly percent-encoded', ['malformed-json', 'request-aborted', 'bad-request']),
      404: notFound,
      409: problemResponse(409, 'The checkout can no longer be cancelled (its order is being confirmed, or it has ended)', ['checkout-not-cancellable'], {
        extensions: { checkoutStatus: z.string().optional().meta({ description: 'The checkout’s status when the cancel was refused.' }) },
      }),
      ...jsonBodyProblems,
      429: problemResponse(429, 'This client address sent more than RATE_LIMIT_CANCELS_PER_MINUTE cancels a minute', ['rate-limited'], { headers: retryAfter }),
      503: temporalDown,
    },
  });
}
