import type { z } from 'zod';
import { InvalidInputError, type FieldError } from './errors';

/** `items[0].quantity` rather than zod's array path: what a person reading the error looks for. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

export function toFieldErrors(error: z.ZodError, root = 'body'): FieldError[] {
  return error.issues.map((issue) => ({ field: fieldPath(issue.path) || root, message: issue.message }));
}

/** Parses untrusted input or throws one InvalidInputError listing every bad field at once. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, root = 'body'): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidInputError(toFieldErrors(result.error, root));
  return result.data;
}
