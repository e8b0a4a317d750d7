/**
 * Money for people, from minor units: the one formatter of the service (CLI, refund refusals,
 * emails). Minor units are divided by the currency's own exponent, from Intl (JPY has none, BHD
 * three), never by a hard-coded 100. Two ways of writing the same amount:
 * - `code` (default), for operators: `EUR 1,234.50`, `JPY 1,200`; the ISO code is unambiguous
 *   whatever the currency, and a plain space keeps it easy to grep and to parse;
 * - `symbol`, for customers: `€1,234.50`, `¥1,200`, as `locale` writes them.
 */
export interface MoneyFormat {
  display?: 'code' | 'symbol';
  /** BCP 47 locale of the reader (default `en-US`). */
  locale?: string;
}

export function formatMoney(minor: number, currency: string, { display = 'code', locale = 'en-US' }: MoneyFormat = {}): string {
  const code = currency.toUpperCase();
  // Not an ISO 4217 code (what Intl accepts): say what we have rather than guess an exponent.
  if (!/^[A-Z]{3}$/.test(code)) return `${minor} ${code} (minor units)`;
  const format = new Intl.NumberFormat(locale, { style: 'currency', currency: code });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  const major = minor / 10 ** digits;
  if (display === 'symbol') return format.format(major);
  // Not Intl's own `currencyDisplay: 'code'`: it joins code and number with a no-break space.
  return `${code} ${major.toLocaleString(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}
