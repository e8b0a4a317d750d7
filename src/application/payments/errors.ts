import { DomainError, type FieldError } from '../errors';

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
