import type { Request, RequestHandler } from 'express';
import { RateLimiterDrizzle, RateLimiterRes } from 'rate-limiter-flexible';
import { rateLimits } from '../../db/schema';
import { DomainError } from '../application/errors';
import type { Config } from '../config';
import type { Database } from '../../db/client';

/**
 * Per-client-address request limits. The counters live in PostgreSQL (table `rate_limits`, one row
 * per limit and client, through rate-limiter-flexible's Drizzle store and its atomic upsert), so
 * every API instance counts the same requests and a restart forgets nothing. Each limit is a fixed
 * one-minute window; past it the request is answered 429 with Retry-After (the seconds until the
 * window ends) before any other work is done. A limit of 0 turns it off.
 */

/** A client address went over one of the per-minute limits. */
export class RateLimitedError extends DomainError {
  readonly kind = 'rate_limited';
  readonly code = 'rate-limited';
  readonly title = 'Too many requests';

  constructor(what: string, perMinute: number, readonly retryAfterSeconds: number) {
    super(`More than ${perMinute} ${what} a minute came from your address. Please try again in ${retryAfterSeconds} s.`);
  }
}

export interface RateLimitRule {
  /** The limit's key prefix in `rate_limits`. */
  name: string;
  perMinute: number;
  /** What is counted, in the problem's words ("checkouts started"). */
  what: string;
}

export interface RateLimitOptions {
  /** The client a request counts against (a keyed hash of its address, see client-address.ts). */
  keyOf(req: Request): string;
  /** Delete long-expired rows every few minutes; one process per database is enough, tests need none. */
  sweepExpired?: boolean;
}

export function rateLimit(db: Database, rule: RateLimitRule, options: RateLimitOptions): RequestHandler {
  if (rule.perMinute === 0) return (_req, _res, next) => next();
  const limiter = new RateLimiterDrizzle({
    storeClient: db,
    schema: rateLimits,
    keyPrefix: rule.name,
    points: rule.perMinute,
    duration: 60,
    clearExpiredByTimeout: options.sweepExpired ?? false,
  });
  return async (req, _res, next) => {
    try {
      await limiter.consume(options.keyOf(req));
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        next(new RateLimitedError(rule.what, rule.perMinute, Math.max(1, Math.ceil(rejection.msBeforeNext / 1000))));
        return;
      }
      // PostgreSQL did not answer: the request goes on and, needing PostgreSQL itself, answers for the outage.
      req.log.warn({ err: rejection, limit: rule.name }, 'rate limit not checked: its store did not answer');
    }
    next();
  };
}

export interface RateLimits {
  /** POST /api/checkouts */
  checkoutStarts: RequestHandler;
  /** POST /api/checkouts/:id/cancel */
  cancels: RequestHandler;
  /** POST /api/sso/redeem and GET /sso/callback, one budget for both. */
  logins: RequestHandler;
}

export function createRateLimits(
  db: Database,
  config: Pick<Config, 'RATE_LIMIT_CHECKOUTS_PER_MINUTE' | 'RATE_LIMIT_CANCELS_PER_MINUTE' | 'RATE_LIMIT_LOGINS_PER_MINUTE'>,
  options: RateLimitOptions,
): RateLimits {
  // One sweeper covers the whole table.
  const others = { ...options, sweepExpired: false };
  return {
    checkoutStarts: rateLimit(db, { name: 'checkout-starts', perMinute: config.RATE_LIMIT_CHECKOUTS_PER_MINUTE, what: 'checkouts started' }, options),
    cancels: rateLimit(db, { name: 'cancels', perMinute: config.RATE_LIMIT_CANCELS_PER_MINUTE, what: 'cancel requests' }, others),
    logins: rateLimit(db, { name: 'logins', perMinute: config.RATE_LIMIT_LOGINS_PER_MINUTE, what: 'sign-in attempts' }, others),
  };
}
