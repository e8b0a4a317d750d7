import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Base62 like Stripe's ids, so anything that pattern-matches or stores ids sees the same shape as in test mode. */
export function randomToken(length: number): string {
  let token = '';
  for (const byte of randomBytes(length)) token += ALPHABET[byte % ALPHABET.length];
  return token;
}

export type IdPrefix = 'pi' | 'ch' | 're' | 'evt' | 'we' | 'dp' | 'req' | 'txn';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomToken(24)}`;
}

/** Stripe timestamps are Unix seconds. */
export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
