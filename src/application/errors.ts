/**
 * The base of every typed failure a use case raises. Each says what went wrong in words a client
 * can show; each area keeps its own errors beside it (checkouts/errors.ts, sign-in/errors.ts, ...).
 * The entry points present them: the API's one error middleware turns `kind` into an HTTP status and
 * the rest into a problem+json document, the CLI turns each into its exit code and one line.
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

export class ServiceUnavailableError extends DomainError {
  readonly kind = 'unavailable';
  readonly code = 'service-unavailable';
  readonly title = 'Temporarily unavailable';

  constructor(
    /** Which dependency failed (`temporal`, `checkout-worker`, `kafka`); logged, never shown to the client. */
    readonly dependency: string,
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super('The service cannot take this request right now. Nothing was lost; please retry shortly.');
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
