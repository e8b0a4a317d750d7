import { asc } from 'drizzle-orm';
import { products } from '../../../db/schema';
import type { Database } from '../../../db/client';

export interface ProductView {
  sku: string;
  name: string;
  description: string;
  /** Integer minor units (cents) of `currency`. */
  price: number;
  currency: string;
  stockAvailable: number;
}

/** The catalog as the page shows it; stock is a snapshot, the reservation is the real check. */
export async function listProducts(db: Database): Promise<ProductView[]> {
  const rows = await db.select().from(products).orderBy(asc(products.name), asc(products.sku));
  return rows.map((p) => ({
    sku: p.sku,
    name: p.name,
    description: p.description,
    price: p.priceMinor,
    currency: p.currency,
    stockAvailable: p.stockAvailable,
  }));
}
