import type { Request } from 'express';
import type { CheckoutDeps } from '../../checkouts/deps';
import type { AccessTokens } from '../../sso/access-token';
import type { ApiDeps } from '../app';
import type { ApiMetrics } from '../metrics';

/** What every router of the app shares; built once in createApp. */
export interface ApiContext {
  deps: ApiDeps;
  metrics: ApiMetrics;
  accessTokens: AccessTokens;
  /** The domain's dependencies with the request's own logger, so its lines carry the request id. */
  checkoutDeps(req: Request): CheckoutDeps;
}
