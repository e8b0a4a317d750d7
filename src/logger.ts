import { DrizzleQueryError } from 'drizzle-orm';
import pino, { type DestinationStream, type LoggerOptions } from 'pino';

/**
 * Errors as log lines, without the customer data that drivers and servers put into them. drizzle
 * repeats every query with its parameters (emails, names) in its message and in `params`;
 * PostgreSQL's `detail` quotes the row a constraint stopped ("Key (email)=(...) already exists");
 * an SMTP server quotes the recipient it refused. The message keeps the SQL (placeholders only),
 * the root cause and its code; any email address left in free text is replaced.
 */
export function serializeError(value: unknown): unknown {
  if (typeof value === 'string') return withoutEmails(value);
  // pino-http hands its serializer the standard serialization, with the error itself as `raw`.
  const err = isErrorLike((value as { raw?: unknown } | null)?.raw) ? (value as { raw: Error }).raw : value;
  if (!isErrorLike(err)) return value;

  const serialized = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  const chain = causeChain(err);
  serialized.message = chain.map(safeMessage).join(': ');
  serialized.stack = chain.map((e) => (e.stack ?? '').replace(e.message, safeMessage(e))).join('\ncaused by: ');
  for (const key of VALUE_BEARING_PROPERTIES) delete serialized[key];
  // drizzle's wrapper has no code of its own; the driver's SQLSTATE under it is what an operator searches for.
  const code = [...chain].reverse().find((e) => typeof e.code === 'string')?.code;
  if (serialized.code === undefined && code) serialized.code = code;
  if (Array.isArray(serialized.aggregateErrors)) serialized.aggregateErrors = (err as AggregateError).errors.map(serializeError);
  for (const [key, field] of Object.entries(serialized)) {
    if (typeof field === 'string') serialized[key] = withoutEmails(field);
  }
  return serialized;
}

/** Driver error fields that hold the values of a query or of the row it touched. */
const VALUE_BEARING_PROPERTIES = ['params', 'parameters', 'args', 'detail'];

const EMAIL_IN_TEXT = /[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;
const withoutEmails = (text: string) => text.replace(EMAIL_IN_TEXT, '[email]');

interface ErrorLike {
  message: string;
  stack?: string;
  cause?: unknown;
  code?: unknown;
}

function isErrorLike(value: unknown): value is ErrorLike {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';
}

function causeChain(err: ErrorLike): ErrorLike[] {
  const chain: ErrorLike[] = [];
  for (let e: unknown = err; isErrorLike(e) && chain.length < 8 && !chain.includes(e); e = e.cause) chain.push(e);
  return chain;
}

function safeMessage(err: ErrorLike): string {
  return withoutEmails(err instanceof DrizzleQueryError ? `Failed query: ${err.query}` : err.message);
}

/**
 * One structured logger for every process. Secrets are redacted by path so that logging a request,
 * an error or a Stripe object never prints a key, a token or a card secret; email fields are
 * redacted the same way, and errors go through serializeError under both keys in use (`err`, ours;
 * `error`, the Temporal SDK's).
 */
const options: LoggerOptions = {
  level: process.env.LOG_LEVEL ?? 'info',
  base: { service: 'checkout-saga' },
  serializers: { err: serializeError, error: serializeError },
  redact: {
    paths: [
      'req.headers.authorization',
      'req.headers["stripe-signature"]',
      'req.headers.cookie',
      '*.token',
      '*.accessToken',
      '*.clientSecret',
      '*.client_secret',
      '*.password',
      '*.secret',
      'email',
      '*.email',
      'customerEmail',
      '*.customerEmail',
    ],
    censor: '[redacted]',
  },
};

/** The service's logger writing to `destination` (stdout by default): what tests use to read what a process would log. */
export function createLogger(destination?: DestinationStream, overrides: Pick<LoggerOptions, 'level'> = {}): pino.Logger {
  return destination ? pino({ ...options, ...overrides }, destination) : pino({ ...options, ...overrides });
}

export const logger = createLogger();

export type Logger = typeof logger;
