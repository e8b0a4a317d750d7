import { sql } from 'drizzle-orm';
import { checkoutStatusChanges } from '../../../db/schema';
import type { CheckoutState } from '../../workflows/checkout/contract';
import type { ActivityDeps } from '../deps';

/** The channel the API LISTENs on; the payload is `<checkoutId>:<version>`. */
export const CHECKOUT_STATUS_CHANNEL = 'checkout_status';

export function createStatusActivities({ db }: Pick<ActivityDeps, 'db'>) {
  return {
    /**
     * One status change of the saga, appended to the change feed and announced to every API
     * instance (NOTIFY is delivered when the transaction commits). A report, safe to run again: a
     * retried task writes the same version again, and a version written by a task Temporal then
     * threw away is overwritten by the one the saga really went on with.
     */
    async recordCheckoutStatus(input: { state: CheckoutState }): Promise<void> {
      const { state } = input;
      const doc = state;
      await db.transaction(async (tx) => {
        await tx
          .insert(checkoutStatusChanges)
          .values({ checkoutId: state.checkoutId, version: state.version, status: state.status, doc })
          .onConflictDoUpdate({ target: [checkoutStatusChanges.checkoutId, checkoutStatusChanges.version], set: { status: state.status, doc, recordedAt: sql`now()` } });
        await tx.execute(sql`select pg_notify(${CHECKOUT_STATUS_CHANNEL}, ${`${state.checkoutId}:${state.version}`})`);
      });
    },
  };
}
