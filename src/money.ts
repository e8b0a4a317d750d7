/**
 * Money for people: `EUR 1,234.50`, `JPY 1,200`. Minor units are divided by the currency's own
 * exponent (from Intl, so JPY has none and BHD three), never by a hard-coded 100.
 */
export function formatMoney(minor: number, currency: string): string {
  const code = currency.toUpperCase();
  const digits = fractionDigits(code);
  const major = minor / 10 ** digits;
  return `${code} ${major.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}

function fractionDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    // Not an ISO 4217 code Intl knows: show the minor units as they are rather than guess.
    return 0;
  }
}
