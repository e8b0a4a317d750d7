import { sql } from 'drizzle-orm';
import { products } from './schema';
import type { Database } from './client';

/**
 * The demo catalog `npm start` offers on the checkout page. Prices are integer minor units (cents)
 * in EUR. The limited T-shirt has only 3 in stock, so "out of stock" can be shown by hand.
 */
export const DEMO_PRODUCTS = [
  { sku: 'PLAN-STARTER-M', name: 'Starter plan (monthly)', description: 'One workspace, 3 seats, email support.', priceMinor: 900, currency: 'EUR', stockAvailable: 10_000 },
  { sku: 'PLAN-TEAM-M', name: 'Team plan (monthly)', description: 'Unlimited workspaces, 25 seats, SSO.', priceMinor: 4900, currency: 'EUR', stockAvailable: 10_000 },
  { sku: 'PLAN-TEAM-Y', name: 'Team plan (yearly)', description: 'The Team plan billed yearly: two months free.', priceMinor: 49_000, currency: 'EUR', stockAvailable: 10_000 },
  { sku: 'MUG-LOGO', name: 'Logo mug', description: 'Stoneware, 330 ml, dishwasher safe.', priceMinor: 1450, currency: 'EUR', stockAvailable: 120 },
  { sku: 'TSHIRT-LAUNCH', name: 'Launch T-shirt (limited)', description: 'Organic cotton; only three left.', priceMinor: 2500, currency: 'EUR', stockAvailable: 3 },
] as const;

/**
 * Inserts the demo products that are missing and refreshes name, description and price of those
 * that exist, by SKU. Stock of an existing row is never reset: a restart must not undo the
 * purchases (or the manual edits) made since the last one.
 */
export async function seedDemoCatalog(db: Database): Promise<{ inserted: number; updated: number }> {
  const rows = await db
    .insert(products)
    .values(DEMO_PRODUCTS.map((p) => ({ ...p })))
    .onConflictDoUpdate({
      target: products.sku,
      set: {
        name: sql`excluded.name`,
        description: sql`excluded.description`,
        priceMinor: sql`excluded.price_minor`,
        currency: sql`excluded.currency`,
        updatedAt: sql`now()`,
      },
    })
    // xmax = 0 only for a row this statement inserted; an updated row carries our transaction id.
    .returning({ inserted: sql<boolean>`(xmax = 0)` });
  const inserted = rows.filter((r) => r.inserted).length;
  return { inserted, updated: rows.length - inserted };
}
