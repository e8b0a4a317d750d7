import { createHmac } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * Who a per-client limit counts against: the client's address, as Express reports it in `req.ip`.
 * That is the TCP peer, unless TRUST_PROXY names the proxies in front of the API; then it is the
 * address those proxies put in X-Forwarded-For, and only they can set it (a client's own header is
 * not believed). An IPv6 client counts by its /64, the block one subscriber gets, so rotating
 * through its own addresses gains it nothing.
 *
 * Only a keyed hash of the address is ever stored (rate-limit rows, the checkout row), under a key
 * derived from SSO_SECRET: IPv4 is small enough that a plain hash could be reversed by trying all.
 */

export function clientAddressKey(ssoSecret: string, ip: string | undefined): string {
  const key = createHmac('sha256', ssoSecret).update('checkout-saga client address v1').digest();
  return createHmac('sha256', key).update(normaliseAddress(ip ?? 'unknown')).digest('base64url');
}

/** `::ffff:203.0.113.7` is 203.0.113.7; an IPv6 address becomes its /64 prefix. */
export function normaliseAddress(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIPv4(ip) || !isIPv6(ip)) return ip;
  return `${expandIPv6(ip).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, `::` expanded, without a zone. */
function expandIPv6(ip: string): string[] {
  const [address = ''] = ip.split('%');
  const [head = '', tail] = address.split('::');
  const groups = (part: string) => (part ? part.split(':') : []);
  const before = groups(head);
  const after = tail === undefined ? [] : groups(tail);
  const missing = 8 - before.length - after.length;
  return [...before, ...Array.from({ length: Math.max(0, missing) }, () => '0'), ...after].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
}

/**
 * TRUST_PROXY as Express's `trust proxy` takes it: a number of proxy hops, or the addresses and
 * subnets of the proxies (`loopback`, `uniquelocal`, `10.0.0.0/8`, ...). Unset: trust no proxy.
 */
export function trustProxySetting(value: string | undefined): number | string[] | false {
  if (value === undefined || value.trim() === '' || value.trim().toLowerCase() === 'false') return false;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
