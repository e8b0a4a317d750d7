import { DomainError } from '../errors';

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
