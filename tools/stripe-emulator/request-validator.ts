import type { Logger } from '../../src/logger';
import { StripeApiError, apiError, type StripeErrorBody } from './errors';

/**
 * Checks each `/v1` request against Stripe's official stripe-mock before the emulator runs it.
 * stripe-mock validates method, path, query and form body against Stripe's OpenAPI spec (its
 * responses are fixtures, so nothing else is taken from it). A request it refuses is refused here
 * with its message prefixed "[stripe-mock] ": the proof that every request the service sends would be
 * accepted by the real API, not only by our emulator.
 */

export type RequestValidator = (request: { method: string; url: string; rawBody: Buffer | undefined }) => Promise<StripeApiError | null>;

/** stripe-mock accepts any well-formed test key; the caller's own key never leaves the emulator. */
const STRIPE_MOCK_KEY = 'sk_test_123';
const VALIDATION_TIMEOUT_MS = 5_000;

export function stripeMockValidator(baseUrl: string, logger: Logger): RequestValidator {
  return async ({ method, url, rawBody }) => {
    const hasBody = method !== 'GET' && method !== 'DELETE';
    let response: Response;
    try {
      // No Idempotency-Key: stripe-mock ignores it, and the emulator owns idempotency.
      response = await fetch(new URL(url, baseUrl), {
        method,
        headers: {
          Authorization: `Bearer ${STRIPE_MOCK_KEY}`,
          ...(hasBody ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
        },
        body: hasBody ? (rawBody?.toString('utf8') ?? '') : undefined,
        signal: AbortSignal.timeout(VALIDATION_TIMEOUT_MS),
      });
    } catch (err) {
      logger.error({ err, stripeMockUrl: baseUrl }, 'stripe-mock unreachable; refusing to run an unvalidated request');
      // Running unvalidated would quietly drop the guarantee this mode exists for; a 5xx is retried.
      return apiError(503, `[stripe-mock] could not validate the request: stripe-mock at ${baseUrl} is unreachable`);
    }
    if (response.status < 400 || response.status >= 500) {
      await response.arrayBuffer().catch(() => undefined);
      return null;
    }
    const body = (await response.json().catch(() => null)) as { error?: StripeErrorBody } | null;
    const error = body?.error;
    if (error?.type !== 'invalid_request_error') return null;
    return new StripeApiError(response.status, { ...error, message: `[stripe-mock] ${error.message}` }, false);
  };
}
