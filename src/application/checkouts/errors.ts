/**
 * Typed failures of the customer-facing domain functions. Each says what went wrong in words a
 * client can show; the API's one error middleware turns `kind` into an HTTP status and the rest
 * into a problem+json document, so no handler decides a status code on its own.
 */

export type DomainErrorKind = 'invalid_input' | 'not_found' | 'unprocessable' | 'conflict' | 'unauthenticated' | 'rate_limited' | 'unavailable';

export interface FieldError {
  /** Where in the request, e.g. `items[0].quantity`, `Idempotency-Key`. */
  field: string;
  message: string;
}

export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;
  /** Stable slug, the last segment of the problem `type` URI; clients may switch on it. */
  abstract readonly code: string;
  abstract readonly title: string;
  /** Extra problem members (RFC 9457 extensions), e.g. `errors` or `skus`. */
  readonly extensions: Record<string, unknown> = {};

  constructor(readonly detail: string) {
    super(detail);
    this.name = new.target.name;
  }
}

export class InvalidInputError extends DomainError {
  readonly kind = 'invalid_input';
  readonly code = 'validation-failed';
  readonly title = 'The request is not valid';

  constructor(readonly errors: FieldError[], detail = 'Some fields are missing or not valid; see errors.') {
    super(detail);
    this.extensions.errors = errors;
  }
}

export class CheckoutNotFoundError extends DomainError {
  readonly kind = 'not_found';
  readonly code = 'checkout-not-found';
  readonly title = 'No such checkout';

  /**
   * Without an id (a malformed one), the detail does not echo what the client sent. With one, it
   * is also the answer to a request without the checkout's secret: the same words either way, so a
   * stranger cannot tell a real checkout from an unknown id.
   */
  constructor(checkoutId?: string) {
    super(
      checkoutId
        ? `There is no checkout ${checkoutId} for this request. Its buyer sends the checkout's secret: the checkout_secret cookie, or the Checkout-Secret header.`
        : 'There is no checkout with this id.',
    );
  }
}

export class UnknownSkuError extends DomainError {
  readonly kind = 'unprocessable';
  readonly code = 'unknown-sku';
  readonly title = 'The cart contains products that do not exist';

  constructor(readonly skus: string[], fieldErrors: FieldError[]) {
    super(`Unknown product${skus.length > 1 ? 's' : ''}: ${skus.join(', ')}.`);
    this.extensions.skus = skus;
    this.extensions.errors = fieldErrors;
  }
}

export class MixedCurrencyCartError extends DomainError {
  readonly kind = 'unprocessable';
  readonly code = 'mixed-currencies';
  readonly title = 'The cart mixes currencies';

  constructor(currencies: string[]) {
    super(`One checkout can only charge one currency; this cart has ${currencies.join(' and ')}.`);
    this.extensions.currencies = currencies;
  }
}

export class IdempotencyKeyReusedError extends DomainError {
  readonly kind = 'unprocessable';
  readonly code = 'idempotency-key-reused';
  readonly title = 'The Idempotency-Key was already used for a different request';

  /** Names nothing of the checkout behind the key: whoever probes a key seen elsewhere learns only that it is taken. */
  constructor() {
    super(
      'This Idempotency-Key already started a checkout with a different body. Send the original body to get that checkout again, or use a new key for a new checkout.',
    );
  }
}

export class CheckoutNotCancellableError extends DomainError {
  readonly kind = 'conflict';
  readonly code = 'checkout-not-cancellable';
  readonly title = 'The checkout can no longer be cancelled';

  constructor(readonly status: string | undefined, detail?: string) {
    super(detail ?? `The checkout is ${status ?? 'finished'} and can no longer be cancelled.`);
    if (status) this.extensions.checkoutStatus = status;
  }
}

export class ServiceUnavailableError extends DomainError {
  readonly kind = 'unavailable';
  readonly code = 'service-unavailable';
  readonly title = 'Temporarily unavailable';

  constructor(
    /** Which dependency failed; logged, never shown to the client. */
    readonly dependency: string,
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super('The service cannot take this request right now. Nothing was lost; please retry shortly.');
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** Too many checkouts in progress: a new one would wait behind them instead of being answered at once. */
export class CheckoutsBusyError extends DomainError {
  readonly kind = 'unavailable';
  readonly code = 'checkouts-busy';
  readonly title = 'Too many checkouts in progress';

  constructor(readonly retryAfterSeconds: number) {
    super('The shop is taking as many checkouts as it can right now. Nothing was charged; please retry shortly.');
  }
}

/** A client address went over one of the per-minute limits (src/api/rate-limits.ts). */
export class RateLimitedError extends DomainError {
  readonly kind = 'rate_limited';
  readonly code = 'rate-limited';
  readonly title = 'Too many requests';

  constructor(what: string, perMinute: number, readonly retryAfterSeconds: number) {
    super(`More than ${perMinute} ${what} a minute came from your address. Please try again in ${retryAfterSeconds} s.`);
  }
}

/** One client address already has CHECKOUT_MAX_IN_FLIGHT_PER_CLIENT checkouts in progress. */
export class TooManyCheckoutsInProgressError extends DomainError {
  readonly kind = 'rate_limited';
  readonly code = 'too-many-checkouts-in-progress';
  readonly title = 'Too many checkouts in progress from your address';

  constructor(limit: number, readonly retryAfterSeconds: number) {
    super(`There are already ${limit} checkouts in progress from your address. Finish or cancel one of them, then try again. Nothing was charged.`);
  }
}

/** One answer for a login token that is unknown, used, revoked or expired: a client learns nothing more. */
export class InvalidLoginTokenError extends DomainError {
  readonly kind = 'unauthenticated';
  readonly code = 'login-link-invalid';
  readonly title = 'The login link is not valid';

  constructor() {
    super('This login link has expired or was already used.');
  }
}

export class AuthenticationRequiredError extends DomainError {
  readonly kind = 'unauthenticated';
  readonly code = 'authentication-required';
  readonly title = 'Authentication required';

  constructor() {
    super('Sign in to continue: send a valid access token as a Bearer token.');
  }
}

export class InvalidWebhookError extends DomainError {
  readonly kind = 'invalid_input';
  readonly code = 'webhook-signature-invalid';
  readonly title = 'The webhook signature is not valid';

  constructor() {
    super('The Stripe-Signature header is missing, does not match the body, or is too old.');
  }
}

/**
 * A correctly signed body that is not a Stripe event this service can read (no id, no data.object,
 * fields of the wrong type or with characters no Stripe id holds). Refused like a forged one, but
 * with the fields named, so whoever sent it can see why.
 */
export class InvalidWebhookEventError extends DomainError {
  readonly kind = 'invalid_input';
  readonly code = 'webhook-event-malformed';
  readonly title = 'The webhook body is not a Stripe event';

  constructor(readonly errors: FieldError[]) {
    super('The signature is valid, but the body is not shaped like a Stripe event; see errors.');
    this.extensions.errors = errors;
  }
}
