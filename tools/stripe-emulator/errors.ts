/**
 * Errors in Stripe's wire format (`{ error: { type, code, message, param, ... } }`) so that the real
 * SDK raises the same error classes it would against api.stripe.com: the status code picks the class
 * (400/404 StripeInvalidRequestError, 401 StripeAuthenticationError, 402 StripeCardError, 5xx StripeAPIError)
 * and `type: 'idempotency_error'` picks StripeIdempotencyError.
 */

export type StripeErrorType = 'invalid_request_error' | 'card_error' | 'api_error' | 'idempotency_error';

export interface StripeErrorBody {
  type: StripeErrorType;
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  charge?: string;
  payment_intent?: unknown;
  payment_method?: unknown;
}

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    /**
     * Stripe saves an idempotent result only once the endpoint started executing: a request refused by
     * parameter validation can be retried with the same key and different, corrected parameters.
     * Business outcomes (a decline, an unexpected state) are saved and replayed like successes.
     */
    readonly savedForIdempotency: boolean,
  ) {
    super(body.message);
    this.name = 'StripeApiError';
  }

  toJSON(): { error: StripeErrorBody } {
    return { error: this.body };
  }
}

export function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

/** A refused parameter: not saved for idempotency, as Stripe validates before executing. */
export function parameterError(message: string, options: { code?: string; param?: string } = {}): StripeApiError {
  return new StripeApiError(400, withCode({ type: 'invalid_request_error', message, param: options.param }, options.code), false);
}

/**
 * A request that was valid but refused by the state of an object (e.g. cancelling a succeeded intent).
 * `code` is undefined where Stripe's answer carries none (refunding an uncaptured charge).
 */
export function stateError(message: string, code: string | undefined, extra: Partial<StripeErrorBody> = {}): StripeApiError {
  return new StripeApiError(400, withCode({ type: 'invalid_request_error', message, ...extra }, code), true);
}

/** Stripe answers 404 for an unknown id in the path and 400 for an unknown id passed as a parameter. */
export function resourceMissing(kind: string, id: string, param: string, status: 400 | 404 = 404): StripeApiError {
  return new StripeApiError(status, withCode({ type: 'invalid_request_error', message: `No such ${kind}: '${id}'`, param }, 'resource_missing'), false);
}

export function apiError(status: number, message: string): StripeApiError {
  return new StripeApiError(status, { type: 'api_error', message }, false);
}

function withCode(body: StripeErrorBody, code: string | undefined): StripeErrorBody {
  const cleaned: StripeErrorBody = { ...body };
  if (cleaned.param === undefined) delete cleaned.param;
  if (!code) return cleaned;
  return { ...cleaned, code, doc_url: docUrl(code) };
}
