import { z } from 'zod';
import { parameterError, type StripeApiError } from './errors';

/**
 * Stripe's v1 API takes form-encoded bodies, so every value arrives as a string (or a nested object or
 * array for `metadata[key]=v` and `list[0]=v`). These schemas parse those strings the way Stripe does
 * and refuse what Stripe refuses, with its messages and codes, so the service meets the same errors
 * here as in test mode even when stripe-mock is not validating.
 */

type ErrorFn = (issue: { input?: unknown }) => string | undefined;

const shown = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));
const invalid =
  (what: string): ErrorFn =>
  (issue) =>
    issue.input === undefined ? undefined : `Invalid ${what}: ${shown(issue.input)}`;

export const integerParam = z
  .string({ error: invalid('integer') })
  .regex(/^-?\d+$/, { error: invalid('integer') })
  .transform(Number);

export const booleanParam = z
  .enum(['true', 'false'], { error: invalid('boolean') })
  .transform((v) => v === 'true');

/** Stripe reads an empty string as "unset", which a required string cannot be. */
export const stringParam = z.string({ error: invalid('string') }).min(1, { error: 'empty' });

export const enumParam = <const T extends readonly [string, ...string[]]>(name: string, values: T) =>
  z.enum(values, { error: () => `Invalid ${name}: must be one of ${values.join(', ')}` });

export const metadataParam = z.union([
  z.literal(''),
  z
    .record(
      z.string().max(40, { error: 'Metadata keys can have up to 40 characters.' }),
      z.string({ error: 'Metadata values must be strings.' }).max(500, { error: 'Metadata values can have up to 500 characters.' }),
    )
    .refine((m) => Object.keys(m).length <= 50, { error: 'Metadata can have up to 50 keys.' }),
]);

export const expandParam = z.array(z.string()).optional();

/** Validates a request's parameters, throwing the StripeApiError Stripe would answer for the first problem. */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  throw toStripeError(result.error.issues[0]!, input);
}

function toStripeError(issue: z.core.$ZodIssue, input: unknown): StripeApiError {
  if (issue.code === 'unrecognized_keys') {
    const name = paramName([...issue.path, issue.keys[0] ?? '']);
    return parameterError(`Received unknown parameter: ${name}`, { code: 'parameter_unknown', param: name });
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // The metadata union: report the branch that describes the object, not "expected ''".
    const inner = issue.errors[issue.errors.length - 1]?.[0];
    if (inner) return toStripeError({ ...inner, path: [...issue.path, ...inner.path] }, input);
  }
  const name = paramName(issue.path);
  const value = valueAt(input, issue.path);
  if (value === undefined) {
    return parameterError(`Missing required param: ${name}.`, { code: 'parameter_missing', param: name });
  }
  if (value === '' && issue.message === 'empty') {
    return parameterError(
      `You passed an empty string for '${name}'. We assume empty values are an attempt to unset a parameter; however '${name}' cannot be unset. You should remove '${name}' from your request or supply a non-empty value.`,
      { code: 'parameter_invalid_empty', param: name },
    );
  }
  const code = issue.message.startsWith('Invalid integer') ? 'parameter_invalid_integer' : undefined;
  // zod's own wording ("Invalid input: expected ...") would name zod, not the parameter.
  const message = issue.message.startsWith('Invalid input') ? `Invalid ${name}: ${shown(value)}` : issue.message;
  return parameterError(message, { code, param: name });
}

/** `['metadata', 'orderId']` -> `metadata[orderId]`, the name Stripe uses in `param`. */
function paramName(path: readonly PropertyKey[]): string {
  const [head, ...rest] = path.map(String);
  return `${head ?? ''}${rest.map((p) => `[${p}]`).join('')}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
