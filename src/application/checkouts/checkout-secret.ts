import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { checkouts } from '../../../db/schema';
import type { Database } from '../../../db/client';
import { CheckoutNotFoundError } from './errors';

/**
 * A checkout's secret: what makes its status and its cancel its buyer's alone. The checkout id is
 * no secret (it is in request logs, in every Kafka event and in Stripe's metadata); this is.
 *
 * It is an HMAC of the checkout id under a key derived from SSO_SECRET for this one purpose, so an
 * Idempotency-Key replay (a client that lost the first answer) gets the same secret again without
 * the API keeping it anywhere. Only its SHA-256 is stored, on the checkout row, and a request's
 * secret is checked against that hash: the database alone cannot produce a valid secret.
 */

/** How API clients present it. The buyer's browser sends the cookie instead. */
export const CHECKOUT_SECRET_HEADER = 'Checkout-Secret';
/** HttpOnly, SameSite=Strict, Path=/api/checkouts/<id>: sent only to that checkout's own endpoints. */
export const CHECKOUT_SECRET_COOKIE = 'checkout_secret';
/** Long enough for a buyer who comes back from a full-page 3-D Secure redirect, short enough not to pile up. */
export const CHECKOUT_SECRET_COOKIE_MAX_AGE_SECONDS = 24 * 60 * 60;

export function checkoutSecretFor(ssoSecret: string, checkoutId: string): string {
  const key = createHmac('sha256', ssoSecret).update('checkout-saga checkout secret v1').digest();
  return createHmac('sha256', key).update(checkoutId).digest('base64url');
}

export function hashCheckoutSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** True when one of the presented secrets hashes to the stored hash; a row without one (older than secrets) matches nothing. */
export function checkoutSecretMatches(storedHash: string | null, presented: readonly string[]): boolean {
  if (!storedHash) return false;
  const expected = Buffer.from(storedHash, 'hex');
  return presented.some((secret) => {
    const actual = Buffer.from(hashCheckoutSecret(secret), 'hex');
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  });
}

/**
 * Lets the request through only when it holds the checkout's secret. A stranger gets exactly the
 * answer an unknown id gets, so holding a checkout id tells nobody even that the checkout exists.
 */
export async function assertBuyerOf(db: Database, checkoutId: string, presented: readonly string[]): Promise<void> {
  const [row] = await db.select({ secretHash: checkouts.secretHash }).from(checkouts).where(eq(checkouts.id, checkoutId));
  if (!row || !checkoutSecretMatches(row.secretHash, presented)) throw new CheckoutNotFoundError(checkoutId);
}
