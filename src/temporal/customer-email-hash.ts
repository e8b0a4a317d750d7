import { createHmac } from 'node:crypto';
import type { Config } from '../config';

/**
 * What stands for a customer's email in Temporal visibility (the CustomerEmail search attribute).
 * Search attributes are indexed and shown in clear (the payload codec cannot seal them, or the
 * server could not filter on them), so the address is replaced by a keyed hash: whoever holds the
 * key (the service, its CLI) turns an address into the value to filter on, whoever reads
 * visibility without it learns nothing, not even by hashing guessed addresses. The address is
 * normalised as the API stores it (trimmed, lower-cased), so `Ana@Example.com ` finds `ana@example.com`.
 */
export const CUSTOMER_EMAIL_HASH_PREFIX = 'hmac-sha256:';

export function customerEmailHash(cfg: Pick<Config, 'CUSTOMER_EMAIL_HASH_KEY'>, email: string): string {
  return CUSTOMER_EMAIL_HASH_PREFIX + createHmac('sha256', cfg.CUSTOMER_EMAIL_HASH_KEY).update(email.trim().toLowerCase()).digest('hex');
}
