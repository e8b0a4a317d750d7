import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { ProductView } from '../../application/checkouts/products';
import { type Exactly, jsonResponse, security } from './common';
import { z } from 'zod';

/** What the checkout page reads before a checkout: the catalog and this deployment's payment mode (routes/products.ts). */

const Product = z
  .strictObject({
    sku: z.string().meta({ example: 'PLAN-TEAM-M' }),
    name: z.string(),
    description: z.string(),
    price: z.int().meta({ description: 'Minor units (cents) of `currency`.', example: 4900 }),
    currency: z.string().meta({ example: 'EUR' }),
    stockAvailable: z.int().meta({ description: 'A snapshot: the reservation at checkout is the real check.' }),
  })
  .meta({ id: 'Product' });

const _productDescribed: Exactly<z.output<typeof Product>, ProductView> = true;

const PageConfig = z
  .strictObject({
    payments: z.union([
      z.strictObject({ mode: z.literal('stripe'), publishableKey: z.string().meta({ description: 'STRIPE_PUBLISHABLE_KEY, for Stripe.js.' }) }),
      z.strictObject({
        mode: z.literal('test-cards'),
        testCards: z.array(z.strictObject({ id: z.string().meta({ example: 'pm_card_visa' }), label: z.string() })).meta({ description: 'The Stripe emulator’s test payment methods.' }),
      }),
    ]),
    limits: z.strictObject({ maxUnitsPerSku: z.int().meta({ description: 'MAX_UNITS_PER_SKU: units of one product one checkout may hold.' }) }),
  })
  .meta({ id: 'PageConfig' });

export function describeCatalog(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/api/products',
    operationId: 'listProducts',
    tags: ['catalog'],
    summary: 'The catalog',
    security: security.none,
    responses: {
      200: jsonResponse('Every product with its price and the stock available now', z.strictObject({ products: z.array(Product) })),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/config',
    operationId: 'getPageConfig',
    tags: ['catalog'],
    summary: 'What the checkout page needs to know',
    description: '`test-cards` while payments go to the Stripe emulator, `stripe` with the publishable key otherwise; and the cart limits.',
    security: security.none,
    responses: { 200: jsonResponse('This deployment’s payment mode and cart limits', PageConfig) },
  });
}
