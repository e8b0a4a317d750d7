import { eq, sql } from 'drizzle-orm';
import { ssoTokens } from '../../../db/schema';
import type { Config } from '../../config';
import type { Database } from '../../../db/client';
import type { CheckoutRecord } from '../checkouts/status';
import { hashToken, loginUrlFor, ssoTokenFor } from './tokens';

/**
 * `redirectUrl`: the one-time auto-login link into an account this checkout created, while usable.
 * `delivery: 'email'`: the account existed, so a sign-in link went to its address instead.
 */
export type CheckoutSignIn = { redirectUrl: string } | { delivery: 'email' };

/**
 * The sign-in a completed checkout offers its buyer. The auto-login link is recomputed here from
 * SSO_SECRET (it is stored only as a hash) and offered only while it can still work: completed
 * checkout, token neither used, revoked nor expired, and issued for the page (an account this
 * checkout created). A token issued for email delivery has another derivation, so what is
 * recomputed here could never redeem it anyway.
 */
export async function checkoutSignIn(
  deps: { db: Database; config: Pick<Config, 'SSO_SECRET' | 'APP_URL'> },
  state: Pick<CheckoutRecord, 'checkoutId' | 'status'>,
): Promise<CheckoutSignIn | undefined> {
  if (state.status !== 'COMPLETED') return undefined;
  const [token] = await deps.db
    .select({
      delivery: ssoTokens.delivery,
      tokenHash: ssoTokens.tokenHash,
      // The database's clock, the same one redeem checks against.
      usable: sql<boolean>`${ssoTokens.usedAt} is null and ${ssoTokens.revokedAt} is null and ${ssoTokens.expiresAt} > now()`,
    })
    .from(ssoTokens)
    .where(eq(ssoTokens.checkoutId, state.checkoutId));
  if (!token) return undefined;
  if (token.delivery === 'email') return { delivery: 'email' };
  const rawToken = ssoTokenFor(deps.config.SSO_SECRET, state.checkoutId);
  if (!token.usable || token.tokenHash !== hashToken(rawToken)) return undefined;
  return { redirectUrl: loginUrlFor(deps.config.APP_URL, rawToken) };
}
