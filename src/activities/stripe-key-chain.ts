import { asyncLocalStorage } from '@temporalio/activity';
import Stripe from 'stripe';
import { logger } from '../logger';

/**
 * How a payment activity sends one Stripe request without getting stuck on an answer Stripe saved.
 *
 * Stripe saves the first answer to an idempotency key once the request started executing, whatever
 * it is (a 500, or a 400 for the state the object was in then), and replays it to every request with
 * that key for 24 hours (https://docs.stripe.com/api/idempotent_requests). Re-sending a key is always
 * safe: it runs only if nothing was saved, and answers 409 while the first request is still running.
 * But a replayed error says nothing about what the money did, and re-sending it forever never
 * gets past it.
 *
 * So a request walks a chain of keys derived from the checkout (`base`, `base:2`, `base:3`, ...). A
 * key is left behind only when Stripe replayed an error for it, which proves its request finished,
 * and reading Stripe (`whatHappened`, a consistent read) shows that request left nothing behind: the
 * next key is then a new request that cannot repeat anything. Every attempt walks the chain from its
 * start, so a key that may have run is always re-sent before a new one is tried; the keys stay
 * deterministic, so a retried activity or a re-run workflow walks the same chain.
 */

/** A chain this long means Stripe keeps failing whatever we send: let Temporal retry later. */
const MAX_KEYS = 10;

export const chainedKey = (baseKey: string, link: number): string => (link === 1 ? baseKey : `${baseKey}:${link}`);

/** True when Stripe answered with the error it had saved for the key (the request behind the key has finished). */
export function isReplayedError(err: unknown): err is Stripe.errors.StripeError {
  return err instanceof Stripe.errors.StripeError && err.headers?.['idempotent-replayed'] === 'true';
}

export async function sendAlongKeyChain<T>(
  baseKey: string,
  send: (idempotencyKey: string) => Promise<T>,
  /**
   * Reads Stripe after a replayed error: what the finished request did (the answer), or undefined
   * when it provably did nothing. It may throw to let Temporal retry when Stripe cannot tell yet.
   */
  whatHappened: (replayed: Stripe.errors.StripeError, idempotencyKey: string) => Promise<T | undefined>,
): Promise<T> {
  for (let link = 1; link <= MAX_KEYS; link++) {
    const idempotencyKey = chainedKey(baseKey, link);
    try {
      return await send(idempotencyKey);
    } catch (err) {
      if (!isReplayedError(err)) throw err;
      const done = await whatHappened(err, idempotencyKey);
      if (done !== undefined) return done;
      activityLog().warn('Stripe replayed a saved error for a request that did nothing; sending it again under the next key', {
        idempotencyKey,
        nextIdempotencyKey: chainedKey(baseKey, link + 1),
        status: err.statusCode,
        stripeCode: err.code,
      });
    }
  }
  throw new Error(`Stripe replayed a saved error for ${MAX_KEYS} idempotency keys in a row, from ${baseKey} to ${chainedKey(baseKey, MAX_KEYS)}`);
}

/** The activity's logger (with its workflow and attempt) inside an activity; the process logger outside one. */
function activityLog(): { warn(message: string, meta?: Record<string, unknown>): void } {
  const context = asyncLocalStorage.getStore();
  if (context) return context.log;
  return { warn: (message, meta) => logger.warn(meta ?? {}, message) };
}
