import type { ActivityDeps } from './deps';
import { createEventActivities } from './events';
import { createOrderActivities } from './checkout/order';
import { createPaymentActivities } from './checkout/payment';
import { createSsoActivities } from './checkout/sso';
import { createStatusActivities } from './checkout/status';
import { createStockActivities } from './checkout/stock';
import { createUserActivities } from './checkout/user';
import { createDisputeActivities } from './dispute';
import { createRefundActivities } from './refund';

/** Every activity the worker registers, built once per process around its shared clients. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createStockActivities(deps),
    ...createPaymentActivities(deps),
    ...createUserActivities(deps),
    ...createSsoActivities(deps),
    ...createOrderActivities(deps),
    ...createStatusActivities(deps),
    ...createEventActivities(deps),
    ...createRefundActivities(deps),
    ...createDisputeActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps };
