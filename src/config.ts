import { z } from 'zod';
import { ALL_CONSUMER_GROUPS, type ConsumerGroupId } from './kafka/consumer/groups';
import { parseCodecKeys } from './temporal/codec';

/**
 * The service's configuration, read from the environment once and validated at start.
 * Every variable is documented in README.md ("Configuration"); defaults are the local stack's.
 * A bad value stops the process with one line per variable, never a half-configured service.
 */

const DEV_WEBHOOK_SECRET = 'whsec_checkout_saga_local_development_only';
const DEV_SSO_SECRET = 'checkout-saga-local-development-sso-secret-change-me';
/** 32 bytes: the local stack's payload key. Test histories in test/histories are sealed with it. */
const DEV_PAYLOAD_CODEC_KEYS = 'dev-2026:Y2hlY2tvdXQtc2FnYSBsb2NhbCBwYXlsb2FkIGtleSE=';
const DEV_CUSTOMER_EMAIL_HASH_KEY = 'checkout-saga-local-development-customer-email-hash-key';
export const EMULATOR_SECRET_KEY = 'sk_test_checkout_saga_emulator';

const durationMs = z.coerce.number().int().positive();
/** A per-client limit: how many in the window; 0 turns the limit off. */
const limit = (defaultValue: number) => z.coerce.number().int().min(0).default(defaultValue);
/** An optional variable an env file leaves blank (`KAFKA_SASL_MECHANISM=`) means unset, not "the empty value". */
const blankAsUnset = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
/** A yes/no switch: `z.coerce.boolean()` would read "false" as true. */
const flag = (defaultValue: boolean) =>
  z.preprocess(
    blankAsUnset,
    z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false (also 1/0, yes/no)' }))
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .default(defaultValue),
  );

/** As kafkajs names them; Kafka's own spelling (SCRAM-SHA-512) is accepted too. */
export const KAFKA_SASL_MECHANISMS = ['scram-sha-256', 'scram-sha-512', 'plain'] as const;

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    /** The API's Prometheus endpoint, apart from the public PORT (business volume is not for the internet); 0 turns it off. */
    API_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9465),
    /** Address the API and the worker's metrics endpoint bind to: loopback locally, 0.0.0.0 in a container. */
    HOST: z.string().min(1).default('127.0.0.1'),
    APP_URL: z.url().default('http://127.0.0.1:3000'),
    /**
     * The proxies in front of the API whose X-Forwarded-For names the client (Express `trust proxy`):
     * a number of hops, or their addresses and subnets (`loopback`, `10.0.0.0/8`, ...). Unset: the
     * client is the TCP peer. Never "trust everyone": any client could then pick its own address.
     */
    TRUST_PROXY: z
      .string()
      .trim()
      .refine((v) => !['true', '*'].includes(v.toLowerCase()), 'must be a number of proxy hops or a comma-separated list of proxy addresses or subnets, never every proxy (unset trusts none)')
      .optional(),

    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').default('postgres://postgres:postgres@127.0.0.1:54320/checkout_saga'),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),

    TEMPORAL_ADDRESS: z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port').default('127.0.0.1:7233'),
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    TEMPORAL_TASK_QUEUE: z.string().min(1).default('checkout'),
    TEMPORAL_UI_URL: z.url().default('http://127.0.0.1:8233'),
    /** The worker's Prometheus endpoint (SDK runtime metrics and checkout outcome counters); 0 turns it off. */
    WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    /** Prebuilt workflow bundle; unset means the worker bundles src/workflows itself (dev and tests). */
    WORKFLOW_BUNDLE_PATH: z.string().optional(),
    /*
     * Worker concurrency. Unset means the SDK's default; `npm run bench` is how to tell whether a
     * value helps on a given machine (README "Performance").
     */
    WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).optional(),
    WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).optional(),
    WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES: z.coerce.number().int().min(1).optional(),
    /** Workflows kept in memory between tasks; one evicted from the cache is replayed from its history on its next task. */
    WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).optional(),
    WORKER_WORKFLOW_TASK_POLLERS: z.coerce.number().int().min(2).optional(),
    WORKER_ACTIVITY_TASK_POLLERS: z.coerce.number().int().min(1).optional(),

    KAFKA_BROKERS: z
      .string()
      .default('127.0.0.1:9092')
      .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'each broker must be host:port')).min(1)),
    KAFKA_CLIENT_ID: z.string().min(1).default('checkout-saga'),
    KAFKA_TOPIC: z.string().min(1).default('checkout.events'),
    KAFKA_DLQ_TOPIC: z.string().min(1).default('checkout.events.dlq'),
    KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().min(1).default(3),
    KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(1).default(1),
    /**
     * SASL for every Kafka client of the process (docker-compose.yml gives each service a principal of
     * its own, which the broker's ACLs know); unset: no authentication, as the local stack runs.
     */
    KAFKA_SASL_MECHANISM: z.preprocess(
      blankAsUnset,
      z
        .string()
        .trim()
        .toLowerCase()
        .pipe(z.enum(KAFKA_SASL_MECHANISMS, { error: 'must be scram-sha-512, scram-sha-256 or plain (unset: no SASL)' }))
        .optional(),
    ),
    KAFKA_SASL_USERNAME: z.preprocess(blankAsUnset, z.string().optional()),
    KAFKA_SASL_PASSWORD: z.preprocess(blankAsUnset, z.string().optional()),
    /** TLS to the brokers, trusting Node's CA store; `plain` sends the password as it is, so only with this on. */
    KAFKA_SSL: flag(false),
    /**
     * Which downstream consumers a consumers process runs. All of them by default (`npm start`); a
     * deployment runs each in its own process, so each reads as its own Kafka principal.
     */
    CONSUMER_GROUPS: z
      .string()
      .default(ALL_CONSUMER_GROUPS.join(','))
      .transform((value, ctx) => {
        const known = ALL_CONSUMER_GROUPS.join(', ');
        const names = value.split(',').map((name) => name.trim()).filter(Boolean);
        if (names.length === 0) ctx.addIssue({ code: 'custom', message: `must name at least one consumer group (${known})` });
        for (const name of new Set(names)) {
          if (!(ALL_CONSUMER_GROUPS as readonly string[]).includes(name)) ctx.addIssue({ code: 'custom', message: `${name} is not a consumer of this service (${known})` });
          else if (names.indexOf(name) !== names.lastIndexOf(name)) ctx.addIssue({ code: 'custom', message: `${name} is named twice` });
        }
        return names as ConsumerGroupId[];
      }),

    STRIPE_SECRET_KEY: z.string().regex(/^(sk|rk)_(test|live)_/, 'must be a Stripe secret key (sk_test_... or sk_live_...)').default(EMULATOR_SECRET_KEY),
    /** Where the stripe SDK sends requests; unset with a real key means api.stripe.com. */
    STRIPE_API_URL: z.url().optional(),
    STRIPE_WEBHOOK_SECRET: z.string().startsWith('whsec_', 'must start with whsec_').default(DEV_WEBHOOK_SECRET),
    STRIPE_PUBLISHABLE_KEY: z.string().regex(/^pk_(test|live)_/).optional(),

    SSO_SECRET: z.string().min(32, 'must be at least 32 characters').default(DEV_SSO_SECRET),

    /**
     * The AES-256-GCM keys that seal every Temporal payload (src/temporal/codec.ts), as
     * `id:base64,id:base64`: the first seals new payloads unless PAYLOAD_CODEC_ACTIVE_KEY names another;
     * every listed key still opens what it sealed. Rotate by putting a new key first and keeping the
     * old one listed until nothing it sealed is needed (retention).
     */
    PAYLOAD_CODEC_KEYS: z
      .string()
      .default(DEV_PAYLOAD_CODEC_KEYS)
      .transform((value, ctx) => {
        try {
          return parseCodecKeys(value);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
          return z.NEVER;
        }
      }),
    PAYLOAD_CODEC_ACTIVE_KEY: z.string().min(1).optional(),
    /** The codec server (src/temporal/codec-server-main.ts) that lets the Temporal Web UI show decrypted payloads to operators. */
    CODEC_SERVER_PORT: z.coerce.number().int().min(0).max(65535).default(8235),
    /** Bearer token operators send to the codec server; the codec server refuses to start without one off loopback. */
    CODEC_SERVER_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
    /** Origins allowed to call the codec server from a browser; default: TEMPORAL_UI_URL's. */
    CODEC_SERVER_CORS_ORIGINS: z
      .string()
      .optional()
      .transform((value) => (value ? value.split(',').map((o) => o.trim()).filter(Boolean) : undefined)),
    /**
     * Key of the HMAC that stands for a customer's email in Temporal visibility (the CustomerEmail
     * search attribute, src/temporal/customer-email-hash.ts): search attributes are indexed in clear,
     * so the address itself never goes there. Changing it makes earlier checkouts unfindable by email.
     */
    CUSTOMER_EMAIL_HASH_KEY: z.string().min(32, 'must be at least 32 characters').default(DEV_CUSTOMER_EMAIL_HASH_KEY),
    SSO_TOKEN_TTL_SECONDS: z.coerce.number().int().min(10).max(3600).default(300),
    /** The single-use sign-in link emailed to an existing account's owner: it must outlive ordinary mail delay and a consumer outage. */
    SSO_EMAIL_LINK_TTL_SECONDS: z.coerce.number().int().min(300).max(7 * 24 * 3600).default(24 * 3600),
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).default(3600),

    /** How long a 3-D Secure challenge or an async payment may stay open before the checkout gives up. */
    PAYMENT_ACTION_TIMEOUT_MS: durationMs.default(15 * 60_000),
    /**
     * A 3-D Secure challenge is given up (stock released, intent cancelled) this long after the buyer
     * last looked at their checkout, well before PAYMENT_ACTION_TIMEOUT_MS; 0 turns it off.
     */
    PAYMENT_ABANDON_AFTER_MS: z.coerce.number().int().min(0).default(3 * 60_000),
    /**
     * How long a payment Stripe reports as `processing` (SEPA and other delayed methods take days)
     * is followed before the checkout gives up on it and an operator must look.
     */
    PAYMENT_SETTLEMENT_HORIZON_MS: durationMs.default(14 * 24 * 60 * 60_000),
    /** First wait before the saga asks Stripe again about an unsettled payment; it doubles up to an hour. */
    PAYMENT_RECONCILE_INTERVAL_MS: durationMs.default(60_000),
    /** How long a compensation is retried before the checkout is parked in NEEDS_ATTENTION. */
    COMPENSATION_RETRY_WINDOW_MS: durationMs.default(10 * 60_000),
    /**
     * `immediate`: the payment step charges the card, and a later failure refunds it. `deferred`: the
     * payment step only authorizes (capture_method=manual), the capture happens just before the order
     * is confirmed, and a failure in between voids the authorization (README "Payments").
     */
    PAYMENT_CAPTURE_MODE: z.enum(['immediate', 'deferred'], { error: 'must be immediate or deferred' }).default('immediate'),
    /**
     * Checkouts allowed in progress at once (all API instances together); past it a new checkout is
     * answered 503 with Retry-After instead of joining a queue it would wait minutes in. Size it as
     * the workers' throughput times the wait a customer should accept (Little's law); 0 turns it off.
     */
    CHECKOUT_MAX_IN_FLIGHT: z.coerce.number().int().min(0).default(32),
    /**
     * A quiet Server-Sent Events stream (GET /api/checkouts/:id/events) sends a comment this often,
     * so proxies keep it open and a 3-D Secure checkout whose page still follows it counts as watched.
     */
    STATUS_EVENTS_HEARTBEAT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
    STATUS_EVENTS_MAX_STREAM_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(300_000),
    /**
     * Checkouts one client address may have in progress at once (3-D Secure ones included, however
     * long they wait), so one client can never hold the door shut for everyone; 0 turns it off.
     */
    CHECKOUT_MAX_IN_FLIGHT_PER_CLIENT: limit(5),
    /** Units of one SKU one checkout may hold (its lines added up): one cart cannot take a product off sale. */
    MAX_UNITS_PER_SKU: z.coerce.number().int().min(1).default(20),
    /** Per client address and minute: checkouts started, cancel requests, sign-in attempts (redeem and callback together). */
    RATE_LIMIT_CHECKOUTS_PER_MINUTE: limit(20),
    RATE_LIMIT_CANCELS_PER_MINUTE: limit(10),
    RATE_LIMIT_LOGINS_PER_MINUTE: limit(20),
    /** Failure notices one email address gets per hour, however many checkouts fail in its name; 0 turns it off. */
    FAILURE_NOTICES_PER_RECIPIENT_PER_HOUR: limit(3),

    SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').default('smtp://127.0.0.1:1025'),
    MAIL_FROM: z.string().min(3).default('Checkout Saga <orders@checkout-saga.local>'),
    MAIL_INBOX_URL: z.url().optional(),
  })
  .superRefine((c, ctx) => {
    // Credentials without a mechanism would be ignored and the client would connect unauthenticated;
    // a mechanism without them fails only at the first connection, far from its cause.
    for (const key of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const) {
      if (c.KAFKA_SASL_MECHANISM && !c[key]) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'is required with KAFKA_SASL_MECHANISM (the principal the service authenticates as)' });
      } else if (!c.KAFKA_SASL_MECHANISM && c[key]) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'is set but KAFKA_SASL_MECHANISM is not: set the mechanism (scram-sha-512, scram-sha-256 or plain) or remove the credentials',
        });
      }
    }

    if (c.PAYLOAD_CODEC_ACTIVE_KEY && !c.PAYLOAD_CODEC_KEYS.has(c.PAYLOAD_CODEC_ACTIVE_KEY)) {
      ctx.addIssue({ code: 'custom', path: ['PAYLOAD_CODEC_ACTIVE_KEY'], message: `names no key of PAYLOAD_CODEC_KEYS (${[...c.PAYLOAD_CODEC_KEYS.keys()].join(', ')})` });
    }

    // The development secrets are in the repository: wherever strangers can reach the service or real
    // money moves, they would let anyone mint access tokens, forge Stripe webhooks, read the customer
    // data sealed in Temporal and tell which email a CustomerEmail hash stands for.
    const exposure = exposureOf(c);
    if (!exposure) return;
    const message = `is the repository's development value, which must not be used here (${exposure}): set a secret of your own`;
    if (c.SSO_SECRET === DEV_SSO_SECRET) ctx.addIssue({ code: 'custom', path: ['SSO_SECRET'], message });
    if (c.STRIPE_WEBHOOK_SECRET === DEV_WEBHOOK_SECRET) ctx.addIssue({ code: 'custom', path: ['STRIPE_WEBHOOK_SECRET'], message });
    if ([...c.PAYLOAD_CODEC_KEYS.values()].some((key) => DEV_PAYLOAD_KEY.equals(key))) ctx.addIssue({ code: 'custom', path: ['PAYLOAD_CODEC_KEYS'], message });
    if (c.CUSTOMER_EMAIL_HASH_KEY === DEV_CUSTOMER_EMAIL_HASH_KEY) ctx.addIssue({ code: 'custom', path: ['CUSTOMER_EMAIL_HASH_KEY'], message });
  });

/**
 * Why this configuration may be reached by strangers or move real money, if it may: the reason the
 * repository's development secrets are refused, and the codec server asks for a token. NODE_ENV is
 * not the test on its own, because nothing forces a deployment to set it.
 */
export function exposureOf(c: { NODE_ENV: string; APP_URL: string; STRIPE_SECRET_KEY: string }): string | undefined {
  if (c.NODE_ENV === 'production') return 'NODE_ENV is production';
  if (!isLoopbackUrl(c.APP_URL)) return `APP_URL ${new URL(c.APP_URL).host} is not loopback`;
  if (/^(sk|rk)_live_/.test(c.STRIPE_SECRET_KEY)) return 'STRIPE_SECRET_KEY is a live key';
  return undefined;
}

const DEV_PAYLOAD_KEY = parseCodecKeys(DEV_PAYLOAD_CODEC_KEYS).values().next().value!;

/** localhost, *.localhost, 127.0.0.0/8 or [::1]: a URL only this machine can reach. */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(host) || host === '[::1]';
}

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  return result.data;
}

let cached: Config | undefined;
/** The process-wide configuration; parsed on first use so a bad variable fails fast at start. */
export function config(): Config {
  cached ??= parseConfig();
  return cached;
}

/** True when payments go to the project's Stripe emulator rather than to Stripe. */
export function usesStripeEmulator(c: Config): boolean {
  return c.STRIPE_SECRET_KEY === EMULATOR_SECRET_KEY;
}

/**
 * The name of every variable the service reads (the schema's keys). docker-compose.yml is tested
 * against it, so a deployment cannot set a variable the code does not know (a typo is otherwise
 * silently ignored and the default used).
 */
export const CONFIG_VARIABLES: readonly string[] = Object.freeze(Object.keys(schema.shape));
