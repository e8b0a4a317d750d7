import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { users } from '../../db/schema';
import { DEMO_PRODUCTS, seedDemoCatalog } from '../../db/seed';
import { createAccessTokens } from '../../src/application/sign-in/access-token';
import { logger } from '../../src/logger';
import { ensureSchemathesis } from '../../tools/stack/schemathesis';
import { ARTIFACTS_DIR } from '../e2e/browser';
import { startTestApi, type TestApi } from './support';

/**
 * Schemathesis (the property-based API fuzzer) against the real API on the test stack, reading the
 * API's own `GET /openapi.json`: every operation gets generated requests, valid and not, and each
 * answer must be what the document promises. `npm run fuzz` runs this file alone; FUZZ_MAX_EXAMPLES
 * and FUZZ_SEED make a longer or a repeated run.
 */

/** Enough per operation to reach each one's edges, few enough that the run stays around two minutes on a loaded 2-core machine. */
const MAX_EXAMPLES = Number(process.env.FUZZ_MAX_EXAMPLES ?? 100);

const HOOKS_FILE = path.join(__dirname, 'fuzz_hooks.py');

/** The emulator's test cards (routes/products.ts): one succeeds, one is declined, one asks for 3-D Secure, one settles later. */
const TEST_CARD_IDS = ['pm_card_visa', 'pm_card_chargeDeclined', 'pm_card_authenticationRequired', 'pm_card_processing'];

/** Stripe event types the webhook route acts on (application/payments/stripe-webhooks.ts); any other is only recorded. */
const ROUTED_EVENT_TYPES = ['payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.canceled', 'charge.refunded', 'charge.dispute.created', 'charge.dispute.closed'];

const CHECKS = [
  // No request, however malformed, makes the API fail (5xx).
  'not_a_server_error',
  // Each status answered is one the document lists for that operation.
  'status_code_conformance',
  // Each body has the media type the document lists for that status (problem documents included).
  'content_type_conformance',
  // The headers the document marks required (X-Request-Id, Location, Retry-After ...) are there and of their schema.
  'response_headers_conformance',
  // Each body matches the schema of its status.
  'response_schema_conformance',
];

interface FuzzRun {
  exitCode: number | null;
  output: string;
}

/** Runs `st run` to its end; its whole report (stdout and stderr, in order) is the output. */
function runSchemathesis(st: string, args: string[], cwd: string, env: Record<string, string>): Promise<FuzzRun> {
  return new Promise((resolve, reject) => {
    // Async on purpose: the API under test answers from this very process.
    const child = spawn(st, args, { cwd, env: { ...process.env, NO_COLOR: '1', COLUMNS: '160', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ exitCode, output: Buffer.concat(chunks).toString('utf8') }));
  });
}

describe('the API under a fuzzer (Schemathesis, from its own OpenAPI document)', () => {
  let api: TestApi;
  let st: string;
  let workDir: string;
  /** A customer who exists, so the routes behind an access token answer more than 401. */
  let accessToken: string;

  beforeAll(async () => {
    // Thousands of refused requests are the point here: only what the API logs as an error is worth reading.
    const quiet = logger.child({ component: 'api-under-fuzz' }, { level: 'error' });
    // Schemathesis reads an event stream to its end: a stream of a checkout waiting on its buyer ends after 2 s, not 5 min.
    [api, st, workDir] = await Promise.all([startTestApi({ deps: { logger: quiet }, harness: { env: { STATUS_EVENTS_MAX_STREAM_MS: '2000' } } }), ensureSchemathesis(), fs.mkdtemp(path.join(os.tmpdir(), 'checkout-saga-fuzz-'))]);
    // The demo catalog, as `npm start` seeds it: the document's example cart (PLAN-TEAM-M) is then a
    // real one, so the fuzzer starts real checkouts and follows their links to status and cancel.
    await seedDemoCatalog(api.h.db);
    const customer = { userId: randomUUID(), email: `fuzz-${randomUUID().slice(0, 8)}@example.com` };
    await api.h.db.insert(users).values({ id: customer.userId, email: customer.email, name: 'Fuzz Customer' });
    const tokens = createAccessTokens({ ssoSecret: api.h.config.SSO_SECRET, ttlSeconds: api.h.config.ACCESS_TOKEN_TTL_SECONDS });
    ({ accessToken } = await tokens.issue(customer));
  });
  afterAll(async () => {
    await api?.close();
    if (workDir) await fs.rm(workDir, { recursive: true, force: true });
  });

  /**
   * Values the fuzzer draws for some fields most of the time instead of random text: real SKUs and
   * the emulator's test cards, so generated carts get past the catalog and reach Stripe, 3-D Secure
   * and the saga; and the event types the webhook route acts on, so events reach their routing.
   */
  async function writeConfig(): Promise<string> {
    const file = path.join(workDir, 'schemathesis.toml');
    const list = (values: readonly string[]) => `[${values.map((v) => JSON.stringify(v)).join(', ')}]`;
    await fs.writeFile(
      file,
      [
        // A Server-Sent Events answer is read this far and no further: a stream of a live checkout need not end.
        'max-stream-events = 5',
        '[dictionaries.skus]',
        `values = ${list(DEMO_PRODUCTS.map((p) => p.sku))}`,
        '[dictionaries.cards]',
        `values = ${list(TEST_CARD_IDS)}`,
        '[dictionaries.events]',
        `values = ${list(ROUTED_EVENT_TYPES)}`,
        '[parameters]',
        '"body.type" = { dictionary = "events", probability = 0.8 }',
        '"body.items[*].sku" = { dictionary = "skus", probability = 0.8 }',
        '"body.paymentMethodId" = { dictionary = "cards", probability = 0.8 }',
        '',
      ].join('\n'),
    );
    return file;
  }

  it('answers every generated request as the document says: no server error, listed statuses, media types, headers and schemas', async () => {
    const run = await runSchemathesis(
      st,
      [
        '--config-file',
        await writeConfig(),
        'run',
        `${api.url}/openapi.json`,
        '--checks',
        CHECKS.join(','),
        '--max-examples',
        String(MAX_EXAMPLES),
        ...(process.env.FUZZ_SEED ? ['--seed', process.env.FUZZ_SEED] : []),
        // One request at a time: the API, its worker and the stack share this machine; and Schemathesis's
        // threads, on Python 3.11, trip CPython's "AST constructor recursion depth mismatch" (gh-106905).
        '--workers',
        '1',
        // A long-poll may rightly take its whole `waitForChangeMs` (at most 30 s).
        '--request-timeout',
        '45',
        // Nothing written into the repository: no example database, reports only in the output.
        '--generation-database',
        'none',
        '--no-color',
        '--header',
        `Authorization: Bearer ${accessToken}`,
      ],
      workDir,
      // The hooks sign the webhooks and send the secrets of the checkouts the run started (fuzz_hooks.py).
      { SCHEMATHESIS_HOOKS: HOOKS_FILE, FUZZ_STRIPE_WEBHOOK_SECRET: api.h.config.STRIPE_WEBHOOK_SECRET },
    );

    // Kept for reading after a run that passed too: what was generated, what was reached, its warnings.
    await fs.mkdir(ARTIFACTS_DIR, { recursive: true });
    await fs.writeFile(path.join(ARTIFACTS_DIR, 'schemathesis-report.txt'), run.output);

    // On failure the message is Schemathesis's own report: each finding with the request that reproduces it.
    expect(run.exitCode === 0 ? 'no findings' : run.output).toBe('no findings');
  }, 600_000);
});
