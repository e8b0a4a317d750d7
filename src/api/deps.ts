import type { Client } from '@temporalio/client';
import type Stripe from 'stripe';
import type { Registry } from 'prom-client';
import { DEFAULT_CHECKOUT_TIMEOUTS, type CheckoutTimeouts } from '../application/checkouts/deps';
import type { ChargeEventHandler } from '../application/payments/stripe-webhooks';
import type { StatusFeed } from '../application/checkouts/status-feed';
import type { Config } from '../config';
import type { Database } from '../../db/client';
import type { Logger } from '../logger';
import type { ReadinessChecker } from './readiness';

export interface ApiTimeouts extends CheckoutTimeouts {
  /** Signalling a workflow from a webhook: past this, Stripe gets a 503 and retries later. */
  webhookSignalMs: number;
  /** Asking Stripe for an open challenge's client secret: past this, the buyer gets a 503 and asks again. */
  stripeReadMs: number;
}

export const DEFAULT_API_TIMEOUTS: ApiTimeouts = { ...DEFAULT_CHECKOUT_TIMEOUTS, webhookSignalMs: 5_000, stripeReadMs: 5_000 };

/** Everything the API talks to, injected so tests run the real app on port 0 against the local stack. */
export interface ApiDeps {
  config: Config;
  db: Database;
  temporal: Client;
  /** Read only: the client secret and challenge link of a buyer's open 3-D Secure challenge. */
  stripe: Stripe;
  /** The saga's change feed (listenForStatusChanges); without it, status is asked of the workflow. */
  statusFeed?: StatusFeed;
  logger: Logger;
  metrics: Registry;
  readiness: ReadinessChecker;
  /** External refunds and disputes from Stripe (`charge.refunded`, `charge.dispute.created`). */
  onChargeEvent?: ChargeEventHandler;
  /** Only the ones to change (a test's shorter start timeout); the rest are DEFAULT_API_TIMEOUTS. */
  timeouts?: Partial<ApiTimeouts>;
  /** Aborted when the process starts draining, so open long-polls answer at once. */
  shutdownSignal?: AbortSignal;
  /** Let this app delete long-expired rate-limit rows now and then (the API process; tests need not). */
  sweepExpiredRateLimits?: boolean;
}

/** ApiDeps as the routes see them: every timeout settled, so no route repeats a default. */
export type ResolvedApiDeps = Omit<ApiDeps, 'timeouts'> & { timeouts: ApiTimeouts };

export function resolveApiDeps(deps: ApiDeps): ResolvedApiDeps {
  return { ...deps, timeouts: { ...DEFAULT_API_TIMEOUTS, ...deps.timeouts } };
}
