/**
 * Which handler failures are the world being down (retried for as long as it takes, never counted
 * towards the dead-letter limit) and which are this message's own (counted, then dead-lettered).
 * A database or mail-server outage must not empty the topic into the DLQ; a message that breaks
 * the handler must not block its partition forever.
 */

/** Node/socket codes of a dependency that did not answer. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/** postgres.js' own codes for a connection that failed or went away. */
const POSTGRES_CLIENT_CODES = new Set(['CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED']);

/**
 * SQLSTATE classes and codes worth waiting out: 08 connection, 40 serialization failure/deadlock,
 * 53 insufficient resources, 57 operator intervention (shutdown, restart), 23505 a unique-key race
 * between two writers of the same new row (the retry reads the winner's row).
 */
function transientSqlState(code: string): boolean {
  return /^(08|40|53|57)/.test(code) || code === '23505' || code === '55P03';
}

/** Walks `cause` (drizzle wraps driver errors) looking for a sign of an outage. */
export function isTransientInfrastructureError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || POSTGRES_CLIENT_CODES.has(code) || (/^[0-9A-Z]{5}$/.test(code) && transientSqlState(code)))) return true;
    const errno = (e as { errno?: unknown }).errno;
    if (typeof errno === 'string' && NETWORK_CODES.has(errno)) return true;
    // kafkajs marks what it considers worth retrying (broker down, leader moving, ...).
    if ((e as { retriable?: unknown }).retriable === true) return true;
  }
  return false;
}

/** Exponential backoff with full jitter: spreads the retries of many partitions after an outage. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * The innermost error of a `cause` chain: the driver's own error under drizzle's wrapper, whose
 * message repeats the whole query with its parameters (customer data has no place in a DLQ header
 * or a log line).
 */
export function rootCause(err: unknown): unknown {
  let e = err;
  for (let depth = 0; depth < 6 && e instanceof Error && e.cause instanceof Error; depth++) e = e.cause;
  return e;
}

/** One line for a log or a DLQ header: the root cause's message and its code. */
export function errorMessage(error: unknown): string {
  const err = rootCause(error);
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
