import { z } from 'zod';
import { parseConfig } from '../../src/config';
import { logger as rootLogger } from '../../src/logger';
import { DEFAULT_AUTHORIZATION_VALIDITY_SECONDS } from './ledger';
import { createStripeEmulator } from './server';
import { DEFAULT_WEBHOOK_RETRY_POLICY } from './webhooks';

/**
 * The emulator as its own process (`tsx tools/stripe-emulator/main.ts`), as the local stack runs it.
 *
 *   STRIPE_EMULATOR_PORT          port to listen on (default 12121)
 *   STRIPE_EMULATOR_HOST          interface to bind (default 127.0.0.1)
 *   STRIPE_EMULATOR_PUBLIC_URL    base URL browsers use for 3-D Secure pages (default http://<host>:<port>)
 *   STRIPE_WEBHOOK_SECRET         whsec_ secret events are signed with (default: the service's, from src/config.ts)
 *   STRIPE_WEBHOOK_URL            endpoint registered at start for every event (optional)
 *   STRIPE_MOCK_URL               stripe-mock that validates every /v1 request first (optional)
 *   STRIPE_EMULATOR_WEBHOOK_MAX_ATTEMPTS       attempts per event and endpoint (default 5)
 *   STRIPE_EMULATOR_WEBHOOK_RETRY_DELAY_MS     first retry delay, then x2.5 up to 30s (default 2000)
 *   STRIPE_EMULATOR_SEARCH_INDEX_DELAY_MS      how long new intents stay out of search (default 0)
 *   STRIPE_EMULATOR_AUTHORIZATION_VALIDITY_SECONDS  how long an uncaptured authorization holds (default 7 days)
 */

const env = z.object({
  STRIPE_EMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(12121),
  STRIPE_EMULATOR_HOST: z.string().min(1).default('127.0.0.1'),
  STRIPE_EMULATOR_PUBLIC_URL: z.url().optional(),
  STRIPE_WEBHOOK_URL: z.url().optional(),
  STRIPE_MOCK_URL: z.url().optional(),
  STRIPE_EMULATOR_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(DEFAULT_WEBHOOK_RETRY_POLICY.maxAttempts),
  STRIPE_EMULATOR_WEBHOOK_RETRY_DELAY_MS: z.coerce.number().int().min(0).default(DEFAULT_WEBHOOK_RETRY_POLICY.initialDelayMs),
  STRIPE_EMULATOR_SEARCH_INDEX_DELAY_MS: z.coerce.number().int().min(0).default(0),
  STRIPE_EMULATOR_AUTHORIZATION_VALIDITY_SECONDS: z.coerce.number().int().min(1).default(DEFAULT_AUTHORIZATION_VALIDITY_SECONDS),
});

async function main(): Promise<void> {
  const logger = rootLogger.child({ component: 'stripe-emulator' });
  const parsed = env.safeParse(process.env);
  if (!parsed.success) {
    logger.fatal({ problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) }, 'invalid Stripe emulator configuration');
    process.exit(2);
  }
  const settings = parsed.data;
  // The service's own config module owns the secret's default and its validation, so the emulator
  // and the service agree on it without either repeating it.
  const { STRIPE_WEBHOOK_SECRET: webhookSecret } = parseConfig({ STRIPE_WEBHOOK_SECRET: process.env.STRIPE_WEBHOOK_SECRET });

  const emulator = createStripeEmulator({
    webhookSecret,
    stripeMockUrl: settings.STRIPE_MOCK_URL,
    publicUrl: settings.STRIPE_EMULATOR_PUBLIC_URL,
    webhookUrl: settings.STRIPE_WEBHOOK_URL,
    webhookRetry: { maxAttempts: settings.STRIPE_EMULATOR_WEBHOOK_MAX_ATTEMPTS, initialDelayMs: settings.STRIPE_EMULATOR_WEBHOOK_RETRY_DELAY_MS },
    searchIndexDelayMs: settings.STRIPE_EMULATOR_SEARCH_INDEX_DELAY_MS,
    authorizationValiditySeconds: settings.STRIPE_EMULATOR_AUTHORIZATION_VALIDITY_SECONDS,
    logger,
  });
  const running = await emulator.listen(settings.STRIPE_EMULATOR_PORT, settings.STRIPE_EMULATOR_HOST);
  logger.info(
    {
      url: running.url,
      publicUrl: settings.STRIPE_EMULATOR_PUBLIC_URL ?? running.url,
      stripeMockUrl: settings.STRIPE_MOCK_URL ?? null,
      webhookUrl: settings.STRIPE_WEBHOOK_URL ?? null,
    },
    'Stripe emulator listening',
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'Stripe emulator stopping');
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'Stripe emulator did not close cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  rootLogger.fatal({ err }, 'Stripe emulator failed to start');
  process.exit(1);
});
