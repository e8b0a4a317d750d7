import { InvalidArgumentError, Option } from 'commander';
import { forbiddenCharacter } from '../application/validation';
import { CHECKOUT_STATUSES, type CheckoutStatus } from '../workflows/checkout/contract';
import { REFUND_KEY_PATTERN } from '../workflows/refund/contract';

/** Value parsers: a bad value is a usage error (exit 2) before anything is connected or changed. */

export function positiveInteger(max = 2_147_483_647) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
      throw new InvalidArgumentError(`expected a whole number from 1 to ${max}.`);
    }
    return Number(raw);
  };
}

export function parseCents(raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 2_147_483_647) {
    throw new InvalidArgumentError('expected minor units (cents): a whole number such as 1250 for 12.50.');
  }
  return Number(raw);
}

export function parseSeconds(raw: string): number {
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) {
    throw new InvalidArgumentError('expected seconds between 0 and 3600.');
  }
  return seconds;
}

export function parseStatus(raw: string): CheckoutStatus {
  const status = raw.trim().toUpperCase();
  if (!(CHECKOUT_STATUSES as readonly string[]).includes(status)) {
    throw new InvalidArgumentError(`expected one of ${CHECKOUT_STATUSES.join(', ')}.`);
  }
  return status as CheckoutStatus;
}

/**
 * Text pasted from a ticket or a chat may carry a terminal escape, a bidi override or another
 * control character that nobody can see: refused, saying which, before it reaches a query, a
 * workflow's history or a refund's ledger.
 */
function refuseForbiddenCharacters(raw: string): void {
  const found = forbiddenCharacter(raw);
  if (found) throw new InvalidArgumentError(`it contains ${found}.`);
}

/**
 * A checkout id, its workflow id `checkout-<id>`, or an order id: printable ASCII without spaces
 * (surrounding spaces from a copy and paste are trimmed).
 */
export function parseCheckoutReference(raw: string): string {
  const reference = raw.trim();
  refuseForbiddenCharacters(reference);
  if (!/^[\x21-\x7e]{1,200}$/.test(reference)) throw new InvalidArgumentError('expected a checkout id, its workflow id checkout-<id>, or an order id.');
  return reference;
}

/** Emails go into a visibility query between double quotes, so quotes and backslashes are refused. */
export function parseEmail(raw: string): string {
  const email = raw.trim();
  refuseForbiddenCharacters(email);
  if (!/^[^\s"'\\@]+@[^\s"'\\@]+$/.test(email)) throw new InvalidArgumentError('expected an email address such as ana@example.com.');
  return email;
}

export function parseReason(raw: string): string {
  const reason = raw.trim();
  refuseForbiddenCharacters(reason);
  if (reason.length === 0 || reason.length > 500) throw new InvalidArgumentError('expected a reason of 1 to 500 characters.');
  return reason;
}

export function parseRefundKey(raw: string): string {
  if (!REFUND_KEY_PATTERN.test(raw)) {
    throw new InvalidArgumentError('expected up to 120 letters, digits and . _ : - (starting with a letter or digit).');
  }
  return raw;
}

export const jsonOption = () => new Option('--json', 'print one JSON document on stdout instead of text');

export const timeoutOption = (what: string, defaultSeconds: number) =>
  new Option('--timeout <seconds>', `how long to wait for ${what}`).argParser(parseSeconds).default(defaultSeconds);
