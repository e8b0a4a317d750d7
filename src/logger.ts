import pino from 'pino';

/**
 * One structured logger for every process. Secrets are redacted by path so that logging a request,
 * an error or a Stripe object never prints a key, a token or a card secret.
 */
export const logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { service: 'checkout-saga' },
  redact: {
    paths: [
      'req.headers.authorization',
      'req.headers["stripe-signature"]',
      'req.headers.cookie',
      '*.token',
      '*.accessToken',
      '*.clientSecret',
      '*.client_secret',
      '*.password',
      '*.secret',
    ],
    censor: '[redacted]',
  },
});

export type Logger = typeof logger;
