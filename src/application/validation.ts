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

/**
 * The first character of `text` that no field a person types may hold, described for an error
 * message, or undefined when there is none: C0 controls (NUL, which PostgreSQL refuses in text,
 * tab and line breaks among them), DEL and C1 controls (terminal escapes in logs and CLIs),
 * unpaired UTF-16 surrogates (not encodable as UTF-8), and the bidi embeddings, overrides and
 * isolates that make text read differently from what it is (U+202A-U+202E, U+2066-U+2069).
 * Letters and marks of every script, including right-to-left ones and U+200E/U+200F, pass.
 */
export function forbiddenCharacter(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `a control character (${codePoint(code)})`;
    if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)) return `a bidirectional formatting character (${codePoint(code)})`;
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return `an unpaired surrogate (${codePoint(code)})`;
    }
    if (code >= 0xdc00 && code <= 0xdfff) return `an unpaired surrogate (${codePoint(code)})`;
  }
  return undefined;
}

const codePoint = (code: number) => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;

/** The characters forbiddenCharacter() refuses, as a JSON Schema (ECMA-262) class; unpaired surrogates cannot be written in one. */
const FORBIDDEN_CLASS = '\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069';

/**
 * What refuseForbiddenCharacters() lets through after a `.trim()`, as patterns for the API document
 * (src/api/openapi), so clients and the fuzzer see the rule: whitespace (tabs and line breaks too)
 * only at either end, none of those characters between; `nonBlank` also wants one visible character.
 */
export const TYPED_TEXT_PATTERN = {
  any: `^\\s*[^${FORBIDDEN_CLASS}]*?\\s*$`,
  nonBlank: `^\\s*[^\\s${FORBIDDEN_CLASS}][^${FORBIDDEN_CLASS}]*?\\s*$`,
} as const;

/** For zod: `.superRefine(refuseForbiddenCharacters)` on a string a person types. */
export function refuseForbiddenCharacters(value: string, ctx: { addIssue(issue: { code: 'custom'; message: string }): void }): void {
  const found = forbiddenCharacter(value);
  if (found) ctx.addIssue({ code: 'custom', message: `must not contain ${found}` });
}
