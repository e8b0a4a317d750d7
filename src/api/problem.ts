import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { DomainError, ServiceUnavailableError, type DomainErrorKind } from '../application/errors';

/**
 * Every error leaves the API as `application/problem+json` (RFC 9457). Domain errors carry their
 * own title, detail and extensions; anything else becomes a generic 500 that names only the request
 * id, so no stack trace or internal message ever reaches a client.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
/** The `type` URI of a problem: the document (src/api/openapi) lists them with the same spelling. */
export const problemType = (code: string) => `urn:checkout-saga:problem:${code}`;

const STATUS_BY_KIND: Record<DomainErrorKind, number> = {
  invalid_input: 400,
  unauthenticated: 401,
  rate_limited: 429,
  not_found: 404,
  conflict: 409,
  unprocessable: 422,
  unavailable: 503,
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export interface ProblemInput {
  status: number;
  /** The slug of the problem type, e.g. `validation-failed`. */
  code: string;
  title: string;
  detail?: string;
  [extension: string]: unknown;
}

export function sendProblem(req: Request, res: Response, problem: ProblemInput): void {
  const { code, status, title, ...rest } = problem;
  const body: Problem = {
    type: problemType(code),
    title,
    status,
    ...rest,
    // The path only: a query string may hold a token that must not be echoed back or logged.
    instance: req.baseUrl + req.path,
    requestId: String(req.id),
  };
  res.status(status).type(PROBLEM_CONTENT_TYPE).json(body);
}

/** body-parser's error types, mapped to what the client did wrong. */
const BODY_PARSER_PROBLEMS: Record<string, { status: number; code: string; title: string; detail: string }> = {
  'entity.parse.failed': { status: 400, code: 'malformed-json', title: 'The body is not valid JSON', detail: 'The request body could not be parsed as JSON.' },
  'entity.too.large': { status: 413, code: 'body-too-large', title: 'The body is too large', detail: 'The request body exceeds the size this endpoint accepts.' },
  'charset.unsupported': { status: 415, code: 'unsupported-charset', title: 'Unsupported charset', detail: 'Send the body as UTF-8.' },
  'encoding.unsupported': { status: 415, code: 'unsupported-encoding', title: 'Unsupported content encoding', detail: 'Send the body uncompressed, gzip or deflate.' },
  'request.aborted': { status: 400, code: 'request-aborted', title: 'The request was aborted', detail: 'The client closed the request before the body arrived.' },
};

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(req, res, { status: 404, code: 'not-found', title: 'Not found', detail: `There is nothing at ${req.method} ${req.path}.` });
};

export const errorHandler: ErrorRequestHandler = (err: unknown, req, res, next) => {
  if (res.headersSent) return next(err);

  if (err instanceof DomainError) {
    const status = STATUS_BY_KIND[err.kind];
    // 503 (a dependency, or shed load) and 429 (a client over its limit) say when to come back.
    if ('retryAfterSeconds' in err && typeof err.retryAfterSeconds === 'number') res.set('Retry-After', String(err.retryAfterSeconds));
    // A shed checkout is the API working as meant; the request log line records it already.
    if (err instanceof ServiceUnavailableError) req.log.warn({ err: err.cause ?? err, dependency: err.dependency }, 'dependency unavailable: answered 503');
    if (err.code === 'authentication-required') res.set('WWW-Authenticate', 'Bearer realm="checkout-saga"');
    return sendProblem(req, res, { status, code: err.code, title: err.title, detail: err.detail, ...err.extensions });
  }

  const parserType = typeof (err as { type?: unknown })?.type === 'string' ? (err as { type: string }).type : undefined;
  const parserProblem = parserType ? BODY_PARSER_PROBLEMS[parserType] : undefined;
  if (parserProblem) return sendProblem(req, res, parserProblem);

  // Other client errors raised by express itself (a malformed URL encoding, for example).
  const status = (err as { status?: unknown; statusCode?: unknown })?.status ?? (err as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return sendProblem(req, res, { status, code: 'bad-request', title: STATUS_CODES[status] ?? 'Bad request', detail: 'The request could not be processed as sent.' });
  }

  // pino-http logs the error with the request's completion line.
  res.err = err instanceof Error ? err : new Error(String(err));
  return sendProblem(req, res, {
    status: 500,
    code: 'internal-error',
    title: 'Internal server error',
    detail: 'Something went wrong on our side. If it keeps happening, contact support and quote the request id.',
  });
};
