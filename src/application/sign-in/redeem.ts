import { eq, sql } from 'drizzle-orm';
import { ssoTokens, users } from '../../../db/schema';
import { InvalidLoginTokenError } from './errors';
import type { Database } from '../../../db/client';
import type { Logger } from '../../logger';
import type { AccessTokens } from './access-token';
import { hashToken } from './tokens';

export interface RedeemedLogin {
  accessToken: string;
  expiresAt: Date;
  user: { id: string; email: string; name: string | null };
}

/**
 * Trades a checkout's auto-login token for an access token, exactly once. Marking it used is one
 * conditional UPDATE, so two concurrent redeems cannot both win; a used, revoked, expired or unknown
 * token all fail the same way, telling a guesser nothing.
 */
export async function redeemSsoToken(deps: { db: Database; accessTokens: AccessTokens; logger: Logger }, rawToken: string): Promise<RedeemedLogin> {
  const [redeemed] = await deps.db
    .update(ssoTokens)
    .set({ usedAt: sql`now()` })
    .where(
      sql`${ssoTokens.tokenHash} = ${hashToken(rawToken)}
        and ${ssoTokens.usedAt} is null
        and ${ssoTokens.revokedAt} is null
        and ${ssoTokens.expiresAt} > now()`,
    )
    .returning({ tokenId: ssoTokens.id, userId: ssoTokens.userId, checkoutId: ssoTokens.checkoutId });
  if (!redeemed) {
    deps.logger.info('login token refused');
    throw new InvalidLoginTokenError();
  }
  const [user] = await deps.db.select().from(users).where(eq(users.id, redeemed.userId));
  if (!user) {
    // The checkout's undo removed the account after the token was issued.
    deps.logger.warn({ tokenId: redeemed.tokenId }, 'login token redeemed for a user that no longer exists');
    throw new InvalidLoginTokenError();
  }
  const { accessToken, expiresAt } = await deps.accessTokens.issue({ userId: user.id, email: user.email });
  deps.logger.info({ userId: user.id, checkoutId: redeemed.checkoutId }, 'login token redeemed');
  return { accessToken, expiresAt, user: { id: user.id, email: user.email, name: user.name } };
}
