import { randomUUID } from 'node:crypto';
import { HttpTimeoutError, type HttpClient, type HttpResponse } from '../http-client';
import type { SoakProduct } from './fault-stack';
import type { Random } from './random';

/**
 * Customers of the soak: each buys through the HTTP API as the checkout page does (POST with an
 * Idempotency-Key, retried with the same key while the service answers 503/502 or not at all, then
 * GETs of the status until the checkout ends), with a card from Stripe's test set. The 3-D Secure
 * customer completes or fails the challenge on the emulator's test endpoint; the bank settles a
 * `processing` payment through the emulator a few seconds later, whatever the customer did
 * meanwhile. Some customers cancel: at once, after a moment, or while their payment is open.
 */

export type CardKind = 'visa' | 'declined' | '3ds-completed' | '3ds-failed' | 'processing-settles' | 'processing-fails';

export interface CardPlan {
  kind: CardKind;
  paymentMethodId: string;
  weight: number;
  /** What happens at the emulator once the intent waits: the customer's challenge, or the bank. */
  action?: { endpoint: 'authenticate' | 'settle'; outcome: 'succeed' | 'fail'; waitsFor: 'requires_action' | 'processing' };
}

export const CARDS: readonly CardPlan[] = [
  { kind: 'visa', paymentMethodId: 'pm_card_visa', weight: 45 },
  { kind: 'declined', paymentMethodId: 'pm_card_chargeDeclined', weight: 10 },
  { kind: '3ds-completed', paymentMethodId: 'pm_card_authenticationRequired', weight: 12, action: { endpoint: 'authenticate', outcome: 'succeed', waitsFor: 'requires_action' } },
  { kind: '3ds-failed', paymentMethodId: 'pm_card_authenticationRequired', weight: 5, action: { endpoint: 'authenticate', outcome: 'fail', waitsFor: 'requires_action' } },
  { kind: 'processing-settles', paymentMethodId: 'pm_card_processing', weight: 10, action: { endpoint: 'settle', outcome: 'succeed', waitsFor: 'processing' } },
  { kind: 'processing-fails', paymentMethodId: 'pm_card_processing', weight: 4, action: { endpoint: 'settle', outcome: 'fail', waitsFor: 'processing' } },
];

/** `during-payment`: while the 3-D Secure challenge or the processing payment is open (instead of completing the challenge). */
export type CancelPlan = 'none' | 'at-once' | 'soon' | 'during-payment';

export interface ShopperMix {
  /** Share of customers who cancel. */
  cancel: number;
  /** Share of customers who buy a low-stock product (so OUT_OF_STOCK happens). */
  lowStock: number;
}

export const DEFAULT_MIX: ShopperMix = { cancel: 0.15, lowStock: 0.15 };

export interface ShopperPlan {
  card: CardKind;
  cancel: CancelPlan;
  sku: string;
  quantity: number;
}

/** Every card with every way of cancelling that applies to it (`during-payment` needs an open payment). */
export const COMBINATIONS: ReadonlyArray<{ card: CardPlan; cancel: CancelPlan }> = CARDS.flatMap((card) =>
  (['none', 'at-once', 'soon', 'during-payment'] as const).filter((cancel) => cancel !== 'during-payment' || card.action).map((cancel) => ({ card, cancel })),
);

/** Every this-many-th customer takes the next combination in turn, so even rare ones happen in every run. */
export const COVERAGE_EVERY = 10;

/**
 * Customer `n` (from 1): a card by weight and a cancel by the mix; every COVERAGE_EVERY-th customer
 * instead takes the next of COMBINATIONS, so a cancel during a payment that later fails (0.3 % of
 * the random mix) happens a few times in a run of a few hundred customers, not only by luck.
 */
export function planShopper(random: Random, catalog: readonly SoakProduct[], mix: ShopperMix = DEFAULT_MIX, n = 1): ShopperPlan {
  let card = random.weighted(CARDS);
  let cancel: CancelPlan = 'none';
  if (random.chance(mix.cancel)) {
    const roll = random.next();
    cancel = card.action && roll < 0.5 ? 'during-payment' : roll < 0.75 ? 'soon' : 'at-once';
  }
  if (n % COVERAGE_EVERY === 0) ({ card, cancel } = COMBINATIONS[(n / COVERAGE_EVERY - 1) % COMBINATIONS.length]!);
  const lowStock = random.chance(mix.lowStock);
  const pool = catalog.filter((p) => p.lowStock === lowStock);
  const product = pool[random.int(0, pool.length - 1)]!;
  return { card: card.kind, cancel, sku: product.sku, quantity: lowStock ? random.int(1, 2) : random.int(1, 3) };
}

export const ENDED = ['COMPLETED', 'FAILED', 'CANCELLED', 'NEEDS_ATTENTION'];

/** What one customer did and saw; the report lists these for every checkout an invariant names. */
export interface Journey {
  n: number;
  email: string;
  idempotencyKey: string;
  /**
   * Where this customer shops from, as the load balancer reports it (X-Forwarded-For): the API's
   * per-client limits see many customers, as they would behind a real balancer, not one address.
   */
  clientAddress: string;
  /** False while the customer is still trying to get their POST accepted. */
  submitDone: boolean;
  plan: ShopperPlan;
  submittedAt: string;
  /** Scenario running when the customer pressed Pay. */
  scenario: string;
  /** Answers to the POST in order: the status, with the problem type of a 5xx (`503 checkouts-busy`), or 'timeout' / 'error' when none came. */
  postAnswers: string[];
  checkoutId?: string;
  acceptedAt?: string;
  /** Why the customer stopped trying to submit (never answered 202). */
  gaveUp?: string;
  cancel?: { at: string; answer: number | 'timeout' | 'error'; statusBefore?: string };
  payment?: { paymentIntentId: string; endpoint: string; outcome: string; answer: number | 'error'; at: string };
  lastStatus?: string;
  endedAt?: string;
  errors: string[];
}

export interface ShopperStats {
  submitted: number;
  accepted: number;
  /** POSTs sent again with the same key after a 5xx, a timeout or a lost connection. */
  retriedPosts: number;
  /** Every POST answer, counted as in `Journey.postAnswers`. */
  postAnswers: Record<string, number>;
  gaveUp: number;
  ended: Record<string, number>;
}

export interface ShopContext {
  http: HttpClient;
  emulator: HttpClient;
  random: Random;
  runId: string;
  catalog: readonly SoakProduct[];
  mix: ShopperMix;
  stats: ShopperStats;
  scenario(): string;
  /** Epoch ms after which customers stop following their checkout (the end of the drain). */
  followUntil(): number;
  /** How long a customer keeps re-submitting a checkout the service does not accept (ms). */
  postPatienceMs: number;
}

const STATUS_EVERY_MS = 2_000;
const INTENT_POLL_MS = 1_000;

export function newStats(): ShopperStats {
  return { submitted: 0, accepted: 0, retriedPosts: 0, postAnswers: {}, gaveUp: 0, ended: {} };
}

export function newJourney(ctx: ShopContext, n: number): Journey {
  return {
    n,
    email: `faults-${ctx.runId}-${n}@example.com`,
    idempotencyKey: randomUUID(),
    // 10.0.0.0/8 has room for every customer of a soak; the balancer appends its own hop as proxies do.
    clientAddress: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
    submitDone: false,
    plan: planShopper(ctx.random, ctx.catalog, ctx.mix, n),
    submittedAt: new Date().toISOString(),
    scenario: ctx.scenario(),
    postAnswers: [],
    errors: [],
  };
}

/** One customer's whole visit. Never throws: what went wrong is in the journey. */
export async function shop(ctx: ShopContext, journey: Journey): Promise<void> {
  const cookies = new CookieJar();
  try {
    ctx.stats.submitted++;
    const accepted = await submit(ctx, journey, cookies).finally(() => (journey.submitDone = true));
    if (!accepted) {
      ctx.stats.gaveUp++;
      return;
    }
    ctx.stats.accepted++;
    const card = CARDS.find((c) => c.kind === journey.plan.card)!;
    const tasks: Array<Promise<void>> = [];
    if (journey.plan.cancel === 'at-once') await cancel(ctx, journey, cookies);
    if (journey.plan.cancel === 'soon') tasks.push(sleep(500 + ctx.random.int(0, 2_500)).then(() => cancel(ctx, journey, cookies)));
    if (card.action) tasks.push(payAtTheEmulator(ctx, journey, card, cookies));
    tasks.push(follow(ctx, journey, cookies));
    await Promise.all(tasks);
    const ended = journey.lastStatus && ENDED.includes(journey.lastStatus) ? journey.lastStatus : 'not ended';
    ctx.stats.ended[ended] = (ctx.stats.ended[ended] ?? 0) + 1;
  } catch (err) {
    note(journey, err);
  }
}

async function submit(ctx: ShopContext, journey: Journey, cookies: CookieJar): Promise<boolean> {
  const giveUpAt = Date.now() + ctx.postPatienceMs;
  for (let attempt = 0; ; attempt++) {
    let res: HttpResponse<{ checkoutId?: string }> | undefined;
    try {
      res = await ctx.http.request<{ checkoutId?: string }>('POST', '/api/checkouts', {
        body: {
          customer: { email: journey.email, name: 'Soak Buyer' },
          items: [{ sku: journey.plan.sku, quantity: journey.plan.quantity }],
          paymentMethodId: CARDS.find((c) => c.kind === journey.plan.card)!.paymentMethodId,
        },
        headers: { 'Idempotency-Key': journey.idempotencyKey, 'X-Forwarded-For': journey.clientAddress },
        timeoutMs: 15_000,
      });
      cookies.take(res);
    } catch (err) {
      journey.postAnswers.push(err instanceof HttpTimeoutError ? 'timeout' : 'error');
    }
    if (res) journey.postAnswers.push(describeAnswer(res));
    const answer = journey.postAnswers.at(-1)!;
    ctx.stats.postAnswers[answer] = (ctx.stats.postAnswers[answer] ?? 0) + 1;
    if (res?.status === 202 && res.body?.checkoutId) {
      journey.checkoutId = res.body.checkoutId;
      journey.acceptedAt = new Date().toISOString();
      return true;
    }
    // 4xx other than 429 is a definite no: the request itself is wrong, retrying changes nothing.
    if (res && res.status >= 400 && res.status < 500 && res.status !== 429) {
      journey.gaveUp = `POST answered ${res.status}: ${JSON.stringify(res.body).slice(0, 200)}`;
      return false;
    }
    if (Date.now() >= giveUpAt) {
      journey.gaveUp = `not accepted within ${Math.round(ctx.postPatienceMs / 1000)} s (answers: ${summarizeAnswers(journey.postAnswers)})`;
      return false;
    }
    ctx.stats.retriedPosts++;
    const retryAfter = Number(res?.headers['retry-after']);
    await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : Math.min(500 * 2 ** attempt, 5_000));
  }
}

async function cancel(ctx: ShopContext, journey: Journey, cookies: CookieJar): Promise<void> {
  if (journey.cancel || (journey.lastStatus && ENDED.includes(journey.lastStatus))) return;
  const statusBefore = journey.lastStatus;
  // The page's Cancel button: a 503 (no worker took the update) is worth pressing again.
  for (let attempt = 0; attempt < 5; attempt++) {
    let answer: number | 'timeout' | 'error';
    try {
      const res = await ctx.http.request('POST', `/api/checkouts/${journey.checkoutId!}/cancel`, {
        body: { reason: 'Changed my mind (fault soak)' },
        headers: { ...cookies.header(), 'X-Forwarded-For': journey.clientAddress },
        timeoutMs: 15_000,
      });
      answer = res.status;
    } catch (err) {
      answer = err instanceof HttpTimeoutError ? 'timeout' : 'error';
    }
    journey.cancel = { at: new Date().toISOString(), answer, ...(statusBefore ? { statusBefore } : {}) };
    if (typeof answer === 'number' && answer < 500) return;
    await sleep(2_000);
  }
}

/**
 * Waits until the checkout's intent waits for the customer (3-D Secure) or the bank (processing),
 * found by the checkout id in its metadata, then acts as they would.
 */
async function payAtTheEmulator(ctx: ShopContext, journey: Journey, card: CardPlan, cookies: CookieJar): Promise<void> {
  const action = card.action!;
  let intentId: string | undefined;
  let lastStatusCheck = 0;
  while (!intentId) {
    if (Date.now() > ctx.followUntil()) return;
    if (journey.lastStatus && ENDED.includes(journey.lastStatus)) return;
    const res = await ctx.emulator
      .request<{ paymentIntents?: Array<{ id: string; status: string }> }>('GET', `/_emulator/state?metadata.checkoutId=${journey.checkoutId!}`, { timeoutMs: 10_000 })
      .catch(() => undefined);
    intentId = res?.body?.paymentIntents?.find((pi) => pi.status === action.waitsFor)?.id;
    if (intentId) break;
    // follow() may be asleep between its GETs; a checkout that ended before paying (out of stock,
    // cancelled) must not keep this loop polling the emulator until the end of the run.
    if (Date.now() - lastStatusCheck > 3 * STATUS_EVERY_MS) {
      lastStatusCheck = Date.now();
      await readStatus(ctx, journey, cookies);
    }
    await sleep(INTENT_POLL_MS);
  }
  if (journey.plan.cancel === 'during-payment') {
    await cancel(ctx, journey, cookies);
    // A customer who cancelled does not answer the challenge; the bank settles regardless.
    if (action.endpoint === 'authenticate') return;
    await sleep(2_000 + ctx.random.int(0, 3_000));
  } else {
    // A person reading the challenge, or a bank taking a moment.
    await sleep(500 + ctx.random.int(0, 2_500));
  }
  let answer: number | 'error' = 'error';
  for (let attempt = 0; attempt < 5 && answer === 'error'; attempt++) {
    try {
      const res = await ctx.emulator.request('POST', `/_emulator/payment_intents/${intentId}/${action.endpoint}`, { body: { outcome: action.outcome }, timeoutMs: 10_000 });
      answer = res.status;
    } catch {
      await sleep(1_000);
    }
  }
  journey.payment = { paymentIntentId: intentId, endpoint: action.endpoint, outcome: action.outcome, answer, at: new Date().toISOString() };
}

async function follow(ctx: ShopContext, journey: Journey, cookies: CookieJar): Promise<void> {
  while (Date.now() < ctx.followUntil()) {
    await readStatus(ctx, journey, cookies);
    if (journey.lastStatus && ENDED.includes(journey.lastStatus)) {
      journey.endedAt = new Date().toISOString();
      return;
    }
    await sleep(STATUS_EVERY_MS + ctx.random.int(0, 500));
  }
}

async function readStatus(ctx: ShopContext, journey: Journey, cookies: CookieJar): Promise<void> {
  try {
    const res = await ctx.http.request<{ status?: string }>('GET', `/api/checkouts/${journey.checkoutId!}`, { headers: { ...cookies.header(), 'X-Forwarded-For': journey.clientAddress }, timeoutMs: 10_000 });
    if (res.status === 200 && res.body?.status) journey.lastStatus = res.body.status;
  } catch {
    // The next read tries again; the service being away is what the soak is about.
  }
}

/** Cookies the API sets on the POST (a per-checkout secret), sent back as a browser would. */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  take(res: HttpResponse): void {
    for (const line of res.headers['set-cookie'] ?? []) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair && eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }

  header(): Record<string, string> {
    return this.cookies.size ? { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {};
  }
}

/** `503 checkouts-busy` (shed by the in-flight limit), `503 service-unavailable` (Temporal), `502 load balancer`, `202`. */
function describeAnswer(res: HttpResponse): string {
  if (res.status < 500) return String(res.status);
  const type = (res.body as { type?: unknown } | undefined)?.type;
  if (typeof type !== 'string') return String(res.status);
  return `${res.status} ${type === 'about:blank' ? 'load balancer' : type.split(':').pop()}`;
}

export function summarizeAnswers(answers: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(String(a), (counts.get(String(a)) ?? 0) + 1);
  return [...counts].map(([k, v]) => `${k} x${v}`).join(', ');
}

function note(journey: Journey, err: unknown): void {
  if (journey.errors.length < 5) journey.errors.push(err instanceof Error ? err.message : String(err));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
