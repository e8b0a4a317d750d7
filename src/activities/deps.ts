import type Stripe from 'stripe';
import type { Database } from '../../db/client';
import type { EventPublisher } from '../kafka/publisher';

/** The I/O clients activities receive from the worker: one pool, one producer, one Stripe client per process. */
export interface ActivityDeps {
  db: Database;
  stripe: Stripe;
  events: EventPublisher;
  /** `ttlSeconds` for the page's auto-login token, `emailTtlSeconds` for the link emailed to an existing account. */
  sso: { secret: string; ttlSeconds: number; emailTtlSeconds: number };
  /** Base URL of the checkout page: where Stripe returns the customer after 3-D Secure. */
  appUrl: string;
  /** The CustomerEmail search attribute of an address (src/temporal/customer-email-hash.ts): workflows hold no keys. */
  customerEmailHash: (email: string) => string;
}
