import { isGrpcServiceError } from '@temporalio/client';
import { ServiceUnavailableError } from '../application/errors';
import { temporalUnreachableCause } from '../application/temporal-errors';

/**
 * A refused or failed operation: exit 1 with a one-line reason. `code` is for `--json` readers
 * (e.g. OVER_REFUND, UNKNOWN_CHECKOUT); the message is what an operator reads on stderr.
 */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** PostgreSQL (postgres.js) could not be reached. */
const DATABASE_UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'CONNECT_TIMEOUT', 'ENOTFOUND']);

/**
 * Anything not already a CliError, said in one line an on-call engineer can act on. Temporal is
 * called unreachable by the same rule the API answers 503 by (application/temporal-errors.ts).
 */
export function toCliError(err: unknown, where: { temporalAddress: string }): CliError {
  if (err instanceof CliError) return err;
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && DATABASE_UNREACHABLE_CODES.has(code)) {
      return new CliError('DATABASE_UNAVAILABLE', `cannot reach PostgreSQL: ${oneLine((e as Error).message)}`);
    }
  }
  const temporal = temporalUnreachableCause(err);
  if (temporal) {
    return isGrpcServiceError(temporal)
      ? new CliError('TEMPORAL_UNAVAILABLE', `Temporal at ${where.temporalAddress} did not answer: ${oneLine(temporal.details || temporal.message)}`)
      : new CliError('TEMPORAL_UNAVAILABLE', `cannot reach Temporal at ${where.temporalAddress}: ${oneLine(temporal.message)}`);
  }
  if (err instanceof ServiceUnavailableError && err.dependency === 'checkout-worker') {
    return new CliError('TEMPORAL_UNAVAILABLE', `Temporal at ${where.temporalAddress} did not answer: no worker took the request in time`);
  }
  return new CliError('FAILED', oneLine(err instanceof Error ? err.message : String(err)));
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
