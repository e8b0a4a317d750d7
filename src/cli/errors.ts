import { isGrpcServiceError } from '@temporalio/client';

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

/** gRPC codes meaning "Temporal did not answer": UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED. */
const UNREACHABLE_GRPC_CODES = new Set([1, 4, 14]);

/** Anything not already a CliError, said in one line an on-call engineer can act on. */
export function toCliError(err: unknown, where: { temporalAddress: string }): CliError {
  if (err instanceof CliError) return err;
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcServiceError(e) && UNREACHABLE_GRPC_CODES.has(e.code)) {
      return new CliError('TEMPORAL_UNAVAILABLE', `Temporal at ${where.temporalAddress} did not answer: ${oneLine(e.details || e.message)}`);
    }
    if (e instanceof Error && /failed to connect|ECONNREFUSED|transport/i.test(e.message) && /temporal|grpc|7233/i.test(`${e.message} ${e.stack ?? ''}`)) {
      return new CliError('TEMPORAL_UNAVAILABLE', `cannot reach Temporal at ${where.temporalAddress}: ${oneLine(e.message)}`);
    }
    const pgCode = (e as { code?: unknown }).code;
    if (pgCode === 'ECONNREFUSED' || pgCode === 'CONNECT_TIMEOUT' || pgCode === 'ENOTFOUND') {
      return new CliError('DATABASE_UNAVAILABLE', `cannot reach PostgreSQL: ${oneLine((e as Error).message)}`);
    }
  }
  return new CliError('FAILED', oneLine(err instanceof Error ? err.message : String(err)));
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
