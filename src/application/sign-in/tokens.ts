import { createHash, createHmac } from 'node:crypto';

/**
 * The auto-login token of a checkout is an HMAC of its id under SSO_SECRET. Only its SHA-256 is
 * stored, and it is never part of workflow history: the API recomputes it for the redirect URL.
 * Knowing the database or the history is not enough to log in; knowing the secret is.
 */
export function ssoTokenFor(secret: string, checkoutId: string): string {
  return createHmac('sha256', secret).update(`sso-login:${checkoutId}`).digest('base64url');
}

/**
 * The sign-in token emailed to the owner of an account a checkout did not create: another HMAC of
 * the checkout id, so the one the API recomputes for the page's redirect never matches its stored
 * hash (no page, response or event can carry a usable one). The notification sender recomputes it
 * for the receipt, the only place it ever exists.
 */
export function emailLoginTokenFor(secret: string, checkoutId: string): string {
  return createHmac('sha256', secret).update(`sso-email-login:${checkoutId}`).digest('base64url');
}

/** Where a sign-in token is redeemed by a browser: `GET /sso/callback`. */
export function loginUrlFor(appUrl: string, rawToken: string): string {
  return `${appUrl.replace(/\/+$/, '')}/sso/callback?token=${encodeURIComponent(rawToken)}`;
}

export function hashToken(rawToken: string): string {
  return createHash('sha256').update(rawToken).digest('hex');
}
