import { isGrpcDeadlineError, isGrpcServiceError, ServiceError } from '@temporalio/client';
import { ServiceUnavailableError } from './errors';

/**
 * The one reading of "Temporal could not be reached", for the API (503 + Retry-After) and the CLI
 * (TEMPORAL_UNAVAILABLE, exit 1) alike: these gRPC codes mean "Temporal could not be reached or did
 * not answer in time", not "you asked wrong".
 */
const TRANSIENT_GRPC_CODES = new Set([
  1, // CANCELLED: the connection dropped under the call
  4, // DEADLINE_EXCEEDED: our own deadline, or no worker answered
  8, // RESOURCE_EXHAUSTED: the server is shedding load
  14, // UNAVAILABLE: nothing listening, or the frontend is restarting
]);

/** Seconds a client should wait before retrying when Temporal is unreachable. */
export const TEMPORAL_RETRY_AFTER_SECONDS = 5;

/**
 * The error in `err`'s cause chain that says Temporal could not be reached (a gRPC error with one
 * of the codes above, or the connection's own failure to connect), or undefined when `err` is about
 * something else.
 */
export function temporalUnreachableCause(err: unknown): Error | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcDeadlineError(e)) return e;
    if (isGrpcServiceError(e) && TRANSIENT_GRPC_CODES.has(e.code)) return e;
    // The connection's own connect failure arrives as a plain Error before any gRPC call. A Node
    // system error (a string `code` such as PostgreSQL's ECONNREFUSED) is some other dependency's.
    if (e instanceof Error && typeof (e as { code?: unknown }).code !== 'string' && /failed to connect|connection.*(refused|closed)|ECONNREFUSED|transport/i.test(e.message)) return e;
    if (e instanceof ServiceError && depth === 0 && e.cause === undefined) return e;
  }
  return undefined;
}

export function isTemporalUnreachable(err: unknown): boolean {
  return temporalUnreachableCause(err) !== undefined;
}

/** Rethrows an unreachable Temporal as ServiceUnavailableError (503 with Retry-After); anything else stays a bug (500). */
export function rethrowTemporalUnavailable(err: unknown): never {
  if (isTemporalUnreachable(err)) throw new ServiceUnavailableError('temporal', TEMPORAL_RETRY_AFTER_SECONDS, { cause: err });
  throw err;
}
