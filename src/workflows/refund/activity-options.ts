import type { ActivityOptions } from '@temporalio/workflow';
import { databaseWrite } from '../checkout/activity-options';

/** The checkout's groups fit the claim (databaseWrite), the Stripe call (paymentCall) and the event (publishEvent). */
export { databaseWrite, paymentCall, publishEvent } from '../checkout/activity-options';

/**
 * Ledger writes after Stripe has refunded. The money has already moved, so giving up after
 * databaseWrite's two minutes would leave the books behind Stripe; a database outage instead
 * delays the record (capped backoff, up to a day, like an event publish) and the workflow stays
 * open, visible in the Web UI, until it lands.
 */
export const afterMoneyMoved: ActivityOptions = {
  ...databaseWrite,
  scheduleToCloseTimeout: '24h',
  retry: { ...databaseWrite.retry, maximumInterval: '30s' },
};
