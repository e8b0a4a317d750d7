import { randomUUID } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { ssoTokens, users, type SsoDelivery } from '../../../db/schema';
import { emailLoginTokenFor, hashToken, ssoTokenFor } from '../../application/sign-in/tokens';
import type { ActivityDeps } from '../deps';

export function createSsoActivities({ db, sso }: Pick<ActivityDeps, 'db' | 'sso'>) {
  return {
    /**
     * Stores the hash of the checkout's single-use login token and returns only its id, expiry and
     * delivery: the raw token never enters workflow history.
     *
     * `redirect` (the page signs the buyer in at once) only for an account this very checkout
     * created, checked against the account row whatever the caller asked for: the buyer has proven
     * nothing about an existing account, which gets an `email` token instead, sent to its address
     * with the receipt and valid long enough to survive mail delay. A workflow from before the
     * caller said which one (no `delivery`) gets the same rule.
     */
    async issueSsoToken(input: { checkoutId: string; userId: string; delivery?: SsoDelivery }): Promise<{ tokenId: string; expiresAt: string; delivery: SsoDelivery }> {
      const [account] = await db.select({ createdByCheckoutId: users.createdByCheckoutId }).from(users).where(eq(users.id, input.userId));
      const delivery: SsoDelivery = input.delivery !== 'email' && account?.createdByCheckoutId === input.checkoutId ? 'redirect' : 'email';
      const rawToken = delivery === 'redirect' ? ssoTokenFor(sso.secret, input.checkoutId) : emailLoginTokenFor(sso.secret, input.checkoutId);
      const ttlSeconds = delivery === 'redirect' ? sso.ttlSeconds : sso.emailTtlSeconds;
      await db
        .insert(ssoTokens)
        .values({
          id: randomUUID(),
          checkoutId: input.checkoutId,
          userId: input.userId,
          tokenHash: hashToken(rawToken),
          delivery,
          expiresAt: new Date(Date.now() + ttlSeconds * 1000),
        })
        .onConflictDoNothing({ target: ssoTokens.checkoutId });
      const [token] = await db.select().from(ssoTokens).where(eq(ssoTokens.checkoutId, input.checkoutId));
      if (!token) throw new Error(`SSO token of checkout ${input.checkoutId} not found after insert`);
      return { tokenId: token.id, expiresAt: token.expiresAt.toISOString(), delivery: token.delivery };
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
