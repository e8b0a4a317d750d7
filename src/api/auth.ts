import type { CookieOptions, Request, RequestHandler, Response } from 'express';
import { CHECKOUT_SECRET_COOKIE, CHECKOUT_SECRET_COOKIE_MAX_AGE_SECONDS, CHECKOUT_SECRET_HEADER } from '../application/checkouts/checkout-secret';
import { AuthenticationRequiredError } from '../application/sign-in/errors';
import type { AccessTokenClaims, AccessTokens } from '../application/sign-in/access-token';

/** The browser's copy of the access token, set by /sso/callback; HttpOnly so page scripts never see it. */
export const SESSION_COOKIE = 'checkout_saga_session';

export function sessionCookieOptions(appUrl: string, maxAgeSeconds: number): CookieOptions {
  return {
    httpOnly: true,
    // Lax: sent on the top-level redirect from the checkout page, not on cross-site POSTs.
    sameSite: 'lax',
    secure: appUrl.startsWith('https:'),
    path: '/',
    maxAge: maxAgeSeconds * 1000,
  };
}

/**
 * Accepts `Authorization: Bearer <jwt>` (API clients) or the session cookie (the app page) and puts
 * the customer in `res.locals.customer`; anything else is a 401 problem. Other routes that act for
 * a customer (e.g. `GET /api/me/orders`) mount this and read `authenticatedCustomer(res)`.
 */
export function requireAccessToken(accessTokens: AccessTokens): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req) ?? readCookie(req, SESSION_COOKIE);
    const claims = token ? await accessTokens.verify(token) : undefined;
    if (!claims) return next(new AuthenticationRequiredError());
    res.locals.customer = claims;
    return next();
  };
}

export function authenticatedCustomer(res: Response): AccessTokenClaims {
  const customer = res.locals.customer as AccessTokenClaims | undefined;
  if (!customer) throw new Error('authenticatedCustomer() used on a route without requireAccessToken()');
  return customer;
}

function bearerToken(req: Request): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  return match?.[1];
}

/**
 * The checkout secret's cookie: HttpOnly (page scripts never see it), SameSite=Strict (no other
 * site's page can make the browser send it) and scoped to that checkout's own path, so it goes
 * with its status and cancel requests and nowhere else.
 */
export function checkoutSecretCookieOptions(appUrl: string, checkoutPath: string): CookieOptions {
  return {
    httpOnly: true,
    sameSite: 'strict',
    secure: appUrl.startsWith('https:'),
    path: checkoutPath,
    maxAge: CHECKOUT_SECRET_COOKIE_MAX_AGE_SECONDS * 1000,
  };
}

/** What a request presents as a checkout's secret: the header (API clients) and the cookie (the buyer's browser). */
export function presentedCheckoutSecrets(req: Request): string[] {
  const header = req.get(CHECKOUT_SECRET_HEADER)?.trim();
  return [...(header ? [header] : []), ...readCookies(req, CHECKOUT_SECRET_COOKIE)];
}

function readCookie(req: Request, name: string): string | undefined {
  return readCookies(req, name)[0];
}

/** Every value of cookie `name`: browsers send one per matching path, most specific first. */
function readCookies(req: Request, name: string): string[] {
  const values: string[] = [];
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        values.push(decodeURIComponent(part.slice(eq + 1).trim()));
      } catch {
        // A value that is not valid percent-encoding is no secret of ours.
      }
    }
  }
  return values;
}
