import Stripe from 'stripe';
import type { Config } from '../config';

/**
 * The stripe SDK, pointed at the local emulator when STRIPE_API_URL is set. The SDK's own network
 * retries are off: Temporal retries the whole activity with the same idempotency key, and two
 * layers of retries would only multiply the wait.
 */
export function createStripeClient(config: Pick<Config, 'STRIPE_SECRET_KEY' | 'STRIPE_API_URL'>): Stripe {
  const target = config.STRIPE_API_URL ? new URL(config.STRIPE_API_URL) : undefined;
  return new Stripe(config.STRIPE_SECRET_KEY, {
    maxNetworkRetries: 0,
    timeout: 10_000,
    appInfo: { name: 'checkout-saga' },
    ...(target
      ? {
          host: target.hostname,
          port: Number(target.port || (target.protocol === 'https:' ? 443 : 80)),
          protocol: target.protocol === 'https:' ? 'https' : 'http',
        }
      : {}),
  });
}
