import type { ActivityDeps } from '../deps';
import { createRefundLedgerActivities } from './ledger';
import { createRefundStockActivities } from './stock';
import { createStripeRefundActivities } from './stripe-refund';

/** RefundWorkflow's and ExternalRefundWorkflow's activities: each one Stripe call or one transaction. */
export function createRefundActivities(deps: Pick<ActivityDeps, 'db' | 'stripe' | 'customerEmailHash'>) {
  return {
    ...createRefundLedgerActivities(deps),
    ...createStripeRefundActivities(deps),
    ...createRefundStockActivities(deps),
  };
}
