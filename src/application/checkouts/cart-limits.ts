import { InvalidInputError, type FieldError } from '../errors';
import type { StartCheckoutRequest } from './schemas';

/**
 * MAX_UNITS_PER_SKU: one checkout may hold at most this many units of one product, its lines added
 * up (the per-line cap alone lets a cart repeat a SKU on many lines). Without it a single request,
 * parked on 3-D Secure, takes a product's whole stock off sale. Reported like any invalid field, on
 * the first line of each SKU over the cap.
 */
export function assertUnitsPerSku(items: StartCheckoutRequest['items'], maxUnitsPerSku: number): void {
  const units = new Map<string, { total: number; firstLine: number; lines: number }>();
  items.forEach(({ sku, quantity }, index) => {
    const seen = units.get(sku);
    if (seen) units.set(sku, { ...seen, total: seen.total + quantity, lines: seen.lines + 1 });
    else units.set(sku, { total: quantity, firstLine: index, lines: 1 });
  });
  const errors: FieldError[] = [...units]
    .filter(([, u]) => u.total > maxUnitsPerSku)
    .map(([sku, u]) => ({
      field: `items[${u.firstLine}].quantity`,
      message:
        u.lines > 1
          ? `must be at most ${maxUnitsPerSku} units of ${sku} in one checkout, all its lines together (${u.total} asked)`
          : `must be at most ${maxUnitsPerSku} units of ${sku} in one checkout`,
    }));
  if (errors.length > 0) {
    throw new InvalidInputError(errors, `One checkout can hold at most ${maxUnitsPerSku} units of one product.`);
  }
}
