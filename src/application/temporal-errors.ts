import { isGrpcDeadlineError, isGrpcServiceError, ServiceError } from '@temporalio/client';
import { ServiceUnavailableError } from './checkouts/errors';

/** gRPC codes that mean "Temporal could not be reached or did not answer in time", not "you asked wrong". */
const TRANSIENT_GRPC_CODES = new Set([
  1, // CANCELLED: the connection dropped under the call
  4, // DEADLINE_EXCEEDED: our own deadline, or no worker answered
  8, // RESOURCE_EXHAUSTED: the server is shedding load
  14, // UNAVAILABLE: nothing listening, or the frontend is restarting
]);

/** Seconds a client should wait before retrying when Temporal is unreachable. */
export const TEMPORAL_RETRY_AFTER_SECONDS = 5;

export function isTemporalUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcDeadlineError(e)) return true;
    if (isGrpcServiceError(e) && TRANSIENT_GRPC_CODES.has(e.code)) return true;
    // The lazy connection's own connect failure arrives as a plain Error before any gRPC call.
    if (e instanceof Error && /failed to connect|connection.*(refused|closed)|ECONNREFUSED|transport/i.test(e.message)) return true;
    if (e instanceof ServiceError && depth === 0 && e.cause === undefined) return true;
  }
  return false;
}

/** Rethrows an unreachable Temporal as a 503 with Retry-After; anything else stays a bug (500). */
export function rethrowTemporalUnavailable(err: unknown): never {
  if (isTemporalUnreachable(err)) throw new ServiceUnavailableError('temporal', TEMPORAL_RETRY_AFTER_SECONDS, { cause: err });
  throw err;
}
