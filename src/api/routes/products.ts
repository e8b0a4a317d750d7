import { Router } from 'express';
import { listProducts } from '../../application/checkouts/products';
import { usesStripeEmulator } from '../../config';
import type { ApiContext } from './context';

/** Test cards the emulator understands (the same ids as Stripe's test mode). */
const TEST_CARDS = [
  { id: 'pm_card_visa', label: 'Visa that succeeds' },
  { id: 'pm_card_chargeDeclined', label: 'Card that is declined' },
  { id: 'pm_card_authenticationRequired', label: 'Card that needs 3-D Secure' },
  { id: 'pm_card_processing', label: 'Payment that settles later' },
];

export function productRoutes({ deps }: ApiContext): Router {
  const router = Router();

  router.get('/products', async (_req, res) => {
    res.set('Cache-Control', 'no-cache').json({ products: await listProducts(deps.db) });
  });

  /** What the checkout page needs to know about this deployment's payments and cart limits. */
  router.get('/config', (_req, res) => {
    const publishableKey = deps.config.STRIPE_PUBLISHABLE_KEY;
    res.json({
      payments: publishableKey && !usesStripeEmulator(deps.config) ? { mode: 'stripe', publishableKey } : { mode: 'test-cards', testCards: TEST_CARDS },
      limits: { maxUnitsPerSku: deps.config.MAX_UNITS_PER_SKU },
    });
  });

  return router;
}
