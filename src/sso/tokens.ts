import { createHash, createHmac } from 'node:crypto';

/**
 * The auto-login token of a checkout is an HMAC of its id under SSO_SECRET. Only its SHA-256 is
 * stored, and it is never part of workflow history: the API recomputes it for the redirect URL.
 * Knowing the database or the history is not enough to log in; knowing the secret is.
 */
export function ssoTokenFor(secret: string, checkoutId: string): string {
  return createHmac('sha256', secret).update(`sso-login:${checkoutId}`).digest('base64url');
}

export function hashToken(rawToken: string): string {
  return createHash('sha256').update(rawToken).digest('hex');
}
