import { randomUUID } from 'node:crypto';
import { and, eq, inArray, ne, notExists } from 'drizzle-orm';
import { checkouts, orders, users } from '../../../db/schema';
import type { ActivityDeps } from '../deps';

export function createUserActivities({ db }: Pick<ActivityDeps, 'db'>) {
  return {
    /**
     * Find-or-create by email, and attach the user to the order in the same transaction. `created`
     * is true only for an account this checkout made, which is the only kind its undo may remove.
     */
    async createUser(input: { checkoutId: string; email: string; name?: string }): Promise<{ userId: string; created: boolean }> {
      return db.transaction(async (tx) => {
        await tx
          .insert(users)
          .values({ id: randomUUID(), email: input.email, name: input.name ?? null, createdByCheckoutId: input.checkoutId })
          .onConflictDoNothing({ target: users.email });
        const [user] = await tx.select().from(users).where(eq(users.email, input.email));
        // The checkout id, not the email: an activity's error message reaches logs and the workflow history.
        if (!user) throw new Error(`the user of checkout ${input.checkoutId} vanished between insert and select`);
        await tx.update(orders).set({ userId: user.id, updatedAt: new Date() }).where(eq(orders.checkoutId, input.checkoutId));
        await tx.update(checkouts).set({ userId: user.id, step: 'createUser', updatedAt: new Date() }).where(eq(checkouts.id, input.checkoutId));
        return { userId: user.id, created: user.createdByCheckoutId === input.checkoutId };
      });
    },

    /**
     * Removes the account only if this checkout created it and no other live order uses it (a second
     * checkout with the same email may have found it meanwhile). Otherwise there is nothing to undo.
     */
    async deleteUser(input: { checkoutId: string }): Promise<{ deleted: boolean }> {
      return db.transaction(async (tx) => {
        const [created] = await tx.select({ id: users.id }).from(users).where(eq(users.createdByCheckoutId, input.checkoutId));
        if (!created) return { deleted: false };
        await tx.update(orders).set({ userId: null }).where(eq(orders.checkoutId, input.checkoutId));
        const deleted = await tx
          .delete(users)
          .where(
            and(
              eq(users.id, created.id),
              notExists(
                tx
                  .select({ id: orders.id })
                  .from(orders)
                  .where(and(eq(orders.userId, created.id), ne(orders.checkoutId, input.checkoutId), inArray(orders.status, ['PENDING', 'CONFIRMED', 'PARTIALLY_REFUNDED', 'REFUNDED']))),
              ),
            ),
          )
          .returning({ id: users.id });
        return { deleted: deleted.length > 0 };
      });
    },
  };
}
