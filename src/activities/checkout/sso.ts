import { randomUUID } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { ssoTokens } from '../../../db/schema';
import { hashToken, ssoTokenFor } from '../../sso/tokens';
import type { ActivityDeps } from '../deps';

export function createSsoActivities({ db, sso }: Pick<ActivityDeps, 'db' | 'sso'>) {
  return {
    /**
     * Stores the hash of the checkout's single-use login token and returns only its id and expiry:
     * the raw token never enters workflow history.
     */
    async issueSsoToken(input: { checkoutId: string; userId: string }): Promise<{ tokenId: string; expiresAt: string }> {
      const expiresAt = new Date(Date.now() + sso.ttlSeconds * 1000);
      await db
        .insert(ssoTokens)
        .values({
          id: randomUUID(),
          checkoutId: input.checkoutId,
          userId: input.userId,
          tokenHash: hashToken(ssoTokenFor(sso.secret, input.checkoutId)),
          expiresAt,
        })
        .onConflictDoNothing({ target: ssoTokens.checkoutId });
      const [token] = await db.select().from(ssoTokens).where(eq(ssoTokens.checkoutId, input.checkoutId));
      if (!token) throw new Error(`SSO token of checkout ${input.checkoutId} not found after insert`);
      return { tokenId: token.id, expiresAt: token.expiresAt.toISOString() };
    },

    async revokeSsoToken(input: { checkoutId: string }): Promise<{ revoked: boolean }> {
      const revoked = await db
        .update(ssoTokens)
        .set({ revokedAt: new Date() })
        .where(and(eq(ssoTokens.checkoutId, input.checkoutId), isNull(ssoTokens.revokedAt)))
        .returning({ id: ssoTokens.id });
      return { revoked: revoked.length > 0 };
    },
  };
}
