import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { loginTokenSchema } from '../../application/checkouts/schemas';
import type { RedeemedLogin } from '../../application/sign-in/redeem';
import type { OrderHistoryView } from '../../read-model/queries';
import { redeemSchema } from '../routes/sso';
import { type Exactly, headers, invalidInput, jsonBodyProblems, jsonResponse, noStore, problemResponse, retryAfter, security } from './common';
import { z } from 'zod';

/** Signing in with a checkout's one-time link, and what a signed-in customer may read (routes/sso.ts, routes/me.ts). */

const User = z
  .strictObject({
    id: z.uuid(),
    email: z.email(),
    name: z.string().nullable(),
  })
  .meta({ id: 'User' });

const _userDescribed: Exactly<z.output<typeof User>, RedeemedLogin['user']> = true;

const AccessToken = z
  .strictObject({
    accessToken: z.string().meta({ description: 'Send it as `Authorization: Bearer <accessToken>`.' }),
    tokenType: z.literal('Bearer'),
    expiresAt: z.iso.datetime(),
    user: User,
  })
  .meta({ id: 'AccessToken' });

const Order = z
  .strictObject({
    orderId: z.uuid(),
    checkoutId: z.uuid(),
    status: z.string().meta({ description: 'PENDING, PAID, AUTHORIZED, CONFIRMED, FAILED, CANCELLED, REFUNDED, PARTIALLY_REFUNDED, DISPUTED ...', example: 'CONFIRMED' }),
    placedAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    amount: z.int().nullable().meta({ description: 'Minor units of `currency`; null while the cart was never priced.' }),
    currency: z.string().nullable(),
    refundedAmount: z.int(),
    lines: z.array(
      z.strictObject({
        sku: z.string(),
        name: z.string().nullable(),
        quantity: z.int(),
        unitPrice: z.int().nullable(),
        lineTotal: z.int().nullable(),
      }),
    ),
    refunds: z.array(z.strictObject({ refundId: z.string(), amount: z.int(), currency: z.string(), reason: z.string().nullable(), at: z.iso.datetime() })),
    disputes: z
      .array(
        z.strictObject({
          amount: z.int(),
          currency: z.string(),
          reason: z.string().nullable(),
          outcome: z.enum(['won', 'lost']).nullable(),
          openedAt: z.iso.datetime().nullable(),
          closedAt: z.iso.datetime().nullable(),
        }),
      )
      .meta({ description: "Disputes of the payment by the buyer's bank: open while `outcome` is null; a lost one is money returned." }),
    statusHistory: z.array(z.strictObject({ status: z.string(), at: z.iso.datetime() })),
    failure: z.strictObject({ code: z.string(), message: z.string(), step: z.string().nullable() }).nullable(),
  })
  .meta({ id: 'Order', description: 'An order as the order-history read model knows it: as fresh as its projector.' });

const _orderDescribed: Exactly<z.output<typeof Order>, OrderHistoryView> = true;

const signInRequired = problemResponse(401, 'No access token, or one that is forged, expired or for an account that no longer exists', ['authentication-required'], {
  headers: {
    'WWW-Authenticate': { description: 'How to authenticate.', required: true, schema: { type: 'string', const: 'Bearer realm="checkout-saga"' } },
  },
});
const loginsLimited = problemResponse(429, 'This client address tried more than RATE_LIMIT_LOGINS_PER_MINUTE sign-ins a minute', ['rate-limited'], { headers: retryAfter });

export function describeSignIn(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/api/sso/redeem',
    operationId: 'redeemSignInToken',
    tags: ['sign-in'],
    summary: 'Trade a one-time sign-in token for an access token',
    description: 'The token of a completed checkout’s `sso.redirectUrl`, or of an emailed sign-in link. Works once.',
    security: security.none,
    request: { body: { required: true, content: { 'application/json': { schema: redeemSchema } } } },
    responses: {
      200: jsonResponse('Signed in', AccessToken, noStore),
      400: invalidInput('A token that cannot be one of ours (anything but printable ASCII, or over 512 characters), or a body that is not JSON', ['malformed-json', 'request-aborted']),
      401: problemResponse(401, 'The token is unknown, used, revoked or expired: one answer for all', ['login-link-invalid']),
      ...jsonBodyProblems,
      429: loginsLimited,
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/sso/logout',
    operationId: 'signOut',
    tags: ['sign-in'],
    summary: 'End the browser session',
    description: 'Clears the session cookie of the account page; a bearer token simply expires.',
    security: security.none,
    responses: {
      204: {
        description: 'Signed out',
        headers: headers({
          'Set-Cookie': { description: 'The session cookie, expired.', required: true, schema: { type: 'string', pattern: '^checkout_saga_session=;' } },
        }),
      },
      400: problemResponse(400, 'A body was sent and it is not JSON', ['malformed-json', 'request-aborted']),
      ...jsonBodyProblems,
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/sso/callback',
    operationId: 'signInWithLink',
    tags: ['sign-in'],
    summary: 'Sign in a browser with a one-time link',
    description: 'The link of `sso.redirectUrl` and of the receipt email: sets the session cookie and sends the browser to the account page.',
    security: security.none,
    request: {
      query: z.object({
        token: loginTokenSchema.optional().meta({ param: { description: 'The one-time sign-in token. Without one, the "link expired" page.' } }),
      }),
    },
    responses: {
      303: {
        description: 'Signed in: on to the account page',
        headers: headers({
          Location: { description: 'The account page.', required: true, schema: { type: 'string', const: '/app' } },
          'Set-Cookie': { description: 'The access token as the HttpOnly session cookie.', required: true, schema: { type: 'string', pattern: '^checkout_saga_session=' } },
        }),
      },
      400: invalidInput('A token that cannot be one of ours (anything but printable ASCII, or over 512 characters)'),
      401: { description: 'The "link expired" page: the token is unknown, used, revoked or expired', headers: headers(), content: { 'text/html': { schema: z.string() } } },
      429: loginsLimited,
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/me',
    operationId: 'getMe',
    tags: ['customer'],
    summary: 'The signed-in customer',
    security: security.customer,
    responses: {
      200: jsonResponse('The customer the access token names', z.strictObject({ user: User }), noStore),
      401: signInRequired,
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/me/orders',
    operationId: 'listMyOrders',
    tags: ['customer'],
    summary: 'The signed-in customer’s orders, newest first',
    description: 'From the order-history read model: an order appears once its projector has seen its events.',
    security: security.customer,
    responses: {
      200: jsonResponse('Up to 50 orders, newest first', z.strictObject({ orders: z.array(Order) }), noStore),
      401: signInRequired,
    },
  });
}
