import express, { Router } from 'express';
import { handleStripeWebhook } from '../../application/payments/stripe-webhooks';
import type { ApiContext } from './context';

/** Stripe events are far below this; it only bounds what an unauthenticated sender can make us hash. */
const WEBHOOK_BODY_LIMIT = '256kb';

export function stripeWebhookRoutes({ deps }: ApiContext): Router {
  const router = Router();
  router.post(
    '/webhooks/stripe',
    // The signature covers the exact bytes Stripe sent, so this route alone reads the body raw.
    express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT }),
    async (req, res) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const result = await handleStripeWebhook(
        {
          db: deps.db,
          temporal: deps.temporal,
          webhookSecret: deps.config.STRIPE_WEBHOOK_SECRET,
          logger: req.log,
          signalTimeoutMs: deps.timeouts.webhookSignalMs,
          ...(deps.onChargeEvent ? { onChargeEvent: deps.onChargeEvent } : {}),
        },
        raw,
        req.get('stripe-signature'),
      );
      res.status(200).json({ received: true, id: result.eventId, outcome: result.outcome });
    },
  );
  return router;
}
