import type { Client } from '@temporalio/client';
import type { Config } from '../../config';
import type { Database } from '../../../db/client';
import type { Logger } from '../../logger';
import type { Admission } from './admission';
import type { BuyerPresence } from './buyer-presence';
import type { SagaTimingVariable } from './saga-timings';
import type { StatusFeed } from './status-feed';

/** How long a use case waits on Temporal before it answers from PostgreSQL or as unavailable. */
export interface CheckoutTimeouts {
  /** Starting a workflow: long enough for a busy frontend, short enough that a client sees 503 and retries. */
  startWorkflowMs: number;
  /** A status query: a worker answers in milliseconds; beyond this, PostgreSQL answers instead. */
  statusQueryMs: number;
  /** An update (cancel, retry compensations) waits for a worker to run its validator. */
  updateMs: number;
  /** Long-poll cadence: cheap for the worker, quick enough for the live view to feel immediate. */
  pollIntervalMs: number;
}

export const DEFAULT_CHECKOUT_TIMEOUTS: CheckoutTimeouts = {
  startWorkflowMs: 5_000,
  statusQueryMs: 1_500,
  updateMs: 10_000,
  pollIntervalMs: 150,
};

export interface CheckoutDeps {
  db: Database;
  temporal: Client;
  config: Pick<
    Config,
    'TEMPORAL_TASK_QUEUE' | SagaTimingVariable | 'APP_URL' | 'SSO_SECRET' | 'MAX_UNITS_PER_SKU' | 'CUSTOMER_EMAIL_HASH_KEY'
  >;
  /** The caller's logger: an API request's, so every line carries its request id. */
  logger: Logger;
  timeouts: CheckoutTimeouts;
  /** Refuses new checkouts while too many are in progress; without it every checkout is admitted. */
  admission?: Admission;
  /** Keeps a 3-D Secure checkout alive while its buyer reads its status; without it none is signalled. */
  buyerPresence?: BuyerPresence;
  /** The saga's change feed as this process hears it; without it status is asked of the workflow. */
  statusFeed?: StatusFeed;
}
