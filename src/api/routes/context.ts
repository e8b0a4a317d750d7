import type { Request } from 'express';
import type { CheckoutDeps } from '../../application/checkouts/deps';
import type { PaymentActions } from '../../application/checkouts/payment-action';
import type { AccessTokens } from '../../application/sign-in/access-token';
import type { ResolvedApiDeps } from '../deps';
import type { ApiMetrics } from '../metrics';
import type { RateLimits } from '../rate-limits';

/** What every router of the app shares; built once in createApp. */
export interface ApiContext {
  deps: ResolvedApiDeps;
  metrics: ApiMetrics;
  accessTokens: AccessTokens;
  /** Per-client-address limits, mounted on the routes they guard. */
  limits: RateLimits;
  /** The open 3-D Secure challenge of a checkout, asked of Stripe for its buyer. */
  paymentActions: PaymentActions;
  /** The keyed hash of the request's client address (client-address.ts). */
  clientKey(req: Request): string;
  /** The use cases' dependencies with the request's own logger, so its lines carry the request id. */
  checkoutDeps(req: Request): CheckoutDeps;
}
