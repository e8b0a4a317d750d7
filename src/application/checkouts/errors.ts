import { DomainError, type FieldError } from '../errors';

/** What starting, reading, cancelling and undoing a checkout can refuse. */

export class CheckoutNotFoundError extends DomainError {
  readonly kind = 'not_found';
  readonly code = 'checkout-not-found';
  readonly title = 'No such checkout';

  /**
   * Without an id (a malformed one), the detail does not echo what the client sent. With one, it
   * is also the answer to a request without the checkout's secret: the same words either way, so a
   * stranger cannot tell a real checkout from an unknown id.
   */
  constructor(readonly checkoutId?: string) {
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

/** Why the saga would not take a request: its workflow has ended, or it refused in its own words. */
export interface SagaRefusal {
  /** Its workflow has closed: nothing is running that could take the request. */
  finished?: boolean;
  /** The workflow's update validator's message, written for customers ("The checkout is COMPLETED and can ..."). */
  refusal?: string;
}

/** An update the saga did not take (cancel, retry compensations): the API answers 409, the CLI says why. */
abstract class SagaRefusedError extends DomainError {
  readonly kind = 'conflict';
  readonly finished: boolean;
  readonly refusal: string | undefined;

  constructor(readonly status: string | undefined, options: SagaRefusal, otherwise: string) {
    super(options.refusal ? `${options.refusal}.`.replace(/\.\.$/, '.') : otherwise);
    this.finished = options.finished ?? false;
    this.refusal = options.refusal;
    if (status) this.extensions.checkoutStatus = status;
  }
}

export class CheckoutNotCancellableError extends SagaRefusedError {
  readonly code = 'checkout-not-cancellable';
  readonly title = 'The checkout can no longer be cancelled';

  constructor(status: string | undefined, options: SagaRefusal = {}) {
    super(status, options, `The checkout is ${status ?? 'finished'} and can no longer be cancelled.`);
  }
}

/** `retryCompensations` of a checkout that is not waiting in NEEDS_ATTENTION. */
export class CompensationRetryRefusedError extends SagaRefusedError {
  readonly code = 'compensation-retry-refused';
  readonly title = 'The checkout has no compensation to retry';

  constructor(status: string | undefined, options: SagaRefusal = {}) {
    super(status, options, `The checkout has already finished (${status ?? 'unknown'}); there is nothing to retry.`);
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

/** One client address already has CHECKOUT_MAX_IN_FLIGHT_PER_CLIENT checkouts in progress. */
export class TooManyCheckoutsInProgressError extends DomainError {
  readonly kind = 'rate_limited';
  readonly code = 'too-many-checkouts-in-progress';
  readonly title = 'Too many checkouts in progress from your address';

  constructor(limit: number, readonly retryAfterSeconds: number) {
    super(`There are already ${limit} checkouts in progress from your address. Finish or cancel one of them, then try again. Nothing was charged.`);
  }
}

