import { formatMoney } from '../../src/money';

/**
 * One formatter for every amount a person reads: operators in the CLI and in refund refusals
 * (`EUR 25.00`), customers in their emails (`€25.00`). The emails' amounts as sent are asserted in
 * notifications.test.ts, the CLI's in test/ops.
 */
describe('money as people read it, from minor units', () => {
  it.each([
    [123450, 'EUR', 'EUR 1,234.50', '€1,234.50'],
    [5, 'eur', 'EUR 0.05', '€0.05'],
    [3399, 'JPY', 'JPY 3,399', '¥3,399'],
    [1250, 'BHD', 'BHD 1.250', 'BHD\u00a01.250'],
  ])('divides %d by the exponent of %s, the same for operators (%s) and customers (%s)', (minor, currency, forOperators, forCustomers) => {
    expect(formatMoney(minor, currency)).toBe(forOperators);
    expect(formatMoney(minor, currency, { display: 'symbol' })).toBe(forCustomers);
  });

  it('writes a customer’s amount the way their locale does', () => {
    expect(formatMoney(123450, 'EUR', { display: 'symbol', locale: 'de-DE' })).toBe('1.234,50\u00a0€');
  });

  it('shows a currency that is not an ISO 4217 code as the minor units it has, never as an amount it guessed', () => {
    expect(formatMoney(1234, 'EURO')).toBe('1234 EURO (minor units)');
    expect(formatMoney(1234, 'EURO', { display: 'symbol' })).toBe('1234 EURO (minor units)');
  });
});
