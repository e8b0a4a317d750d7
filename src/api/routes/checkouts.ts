import { Router, type Request, type Response } from 'express';
import { cancelCheckout } from '../../application/checkouts/cancel';
import { assertBuyerOf, CHECKOUT_SECRET_COOKIE } from '../../application/checkouts/checkout-secret';
import { CheckoutNotFoundError, CheckoutsBusyError } from '../../application/checkouts/errors';
import {
  cancelCheckoutSchema,
  checkoutIdSchema,
  idempotencyKeySchema,
  startCheckoutSchema,
  statusEventsQuerySchema,
  statusQuerySchema,
  type StartCheckoutRequest,
} from '../../application/checkouts/schemas';
import { startCheckout } from '../../application/checkouts/start';
import { followCheckout, getCheckoutStatus, waitForCheckout, type CheckoutRecord } from '../../application/checkouts/status';
import { InvalidInputError, type FieldError } from '../../application/errors';
import { checkoutSignIn } from '../../application/sign-in/checkout-sign-in';
import { parseInput, toFieldErrors } from '../../application/validation';
import { checkoutSecretCookieOptions, presentedCheckoutSecrets } from '../auth';
import { customerView, type CheckoutStatusView } from '../checkout-view';
import type { ApiContext } from './context';

const statusUrl = (checkoutId: string) => `/api/checkouts/${checkoutId}`;

/** `Prefer: wait=N` waits at most this long for the payment's decision, whatever N says. */
export const MAX_PREFER_WAIT_SECONDS = 10;

export function checkoutRoutes(ctx: ApiContext): Router {
  const router = Router();

  router.post('/', ctx.limits.checkoutStarts, async (req, res) => {
    const { request, idempotencyKey } = parseStartRequest(req);
    const options = { clientHash: ctx.clientKey(req), ...(idempotencyKey ? { idempotencyKey } : {}) };
    const result = await startCheckout(ctx.checkoutDeps(req), request, options).catch((err: unknown) => {
      if (err instanceof CheckoutsBusyError) ctx.metrics.checkoutsShed.inc();
      throw err;
    });
    if (!result.replayed) ctx.metrics.checkoutsStarted.inc();
    if (result.replayed) res.set('Idempotent-Replayed', 'true');
    const url = statusUrl(result.checkoutId);
    // RFC 7240: the client would rather wait (a few seconds) for the payment's decision than poll for it.
    const waitSeconds = preferredWaitSeconds(req.get('prefer'));
    const decided = waitSeconds > 0 ? await waitForPaymentDecision(ctx, req, result.checkoutId, waitSeconds * 1_000, res) : undefined;
    res
      .status(decided ? 201 : 202)
      .location(url)
      .vary('Prefer')
      // The browser keeps it (HttpOnly) and sends it back on this checkout's paths only; an API client takes it from the body.
      .cookie(CHECKOUT_SECRET_COOKIE, result.checkoutSecret, checkoutSecretCookieOptions(ctx.deps.config.APP_URL, url))
      .set('Cache-Control', 'no-store')
      .json({
        checkoutId: result.checkoutId,
        status: decided?.status ?? result.status,
        statusUrl: url,
        checkoutSecret: result.checkoutSecret,
        ...(decided ? { checkout: decided } : {}),
      });
  });

  router.get('/:id', async (req, res) => {
    const checkoutId = parseCheckoutId(req.params.id);
    const query = parseInput(statusQuerySchema, req.query, 'query');
    await assertBuyerOf(ctx.deps.db, checkoutId, presentedCheckoutSecrets(req));
    // Stop a long-poll as soon as the client goes away or the server starts draining.
    const closed = new AbortController();
    res.on('close', () => closed.abort());
    const signal = ctx.deps.shutdownSignal ? AbortSignal.any([closed.signal, ctx.deps.shutdownSignal]) : closed.signal;
    const { state, source } = await getCheckoutStatus(ctx.checkoutDeps(req), checkoutId, {
      ...(query.waitForChangeMs !== undefined ? { waitForChangeMs: query.waitForChangeMs } : {}),
      ...(query.sinceVersion !== undefined ? { sinceVersion: query.sinceVersion } : {}),
      signal,
    });
    const view = await buyerView(ctx, state);
    // The body may hold a login link and a client secret: never cache it anywhere.
    res.set({ 'Cache-Control': 'no-store', 'X-Status-Source': source }).json(view);
  });

  /**
   * Server-Sent Events: one `data:` per status change (the JSON of GET /api/checkouts/:id), `id:`
   * its version, so a reconnecting EventSource sends `Last-Event-ID` and gets every change it
   * missed. A comment line keeps a quiet stream open; the stream ends with the checkout, and a
   * client that resumes after the ending gets 204, which tells an EventSource to stop.
   */
  router.get('/:id/events', async (req, res) => {
    const checkoutId = parseCheckoutId(req.params.id);
    const query = parseInput(statusEventsQuerySchema, { ...req.query, ...(req.get('last-event-id') !== undefined ? { lastEventId: req.get('last-event-id') } : {}) }, 'query');
    await assertBuyerOf(ctx.deps.db, checkoutId, presentedCheckoutSecrets(req));
    const closed = new AbortController();
    res.on('close', () => closed.abort());
    const { config } = ctx.deps;
    // A stream has a lifetime: past it the server ends the stream and the client comes back with Last-Event-ID.
    const expired = AbortSignal.timeout(config.STATUS_EVENTS_MAX_STREAM_MS);
    const signal = AbortSignal.any([closed.signal, expired, ...(ctx.deps.shutdownSignal ? [ctx.deps.shutdownSignal] : [])]);
    // Often enough that a followed 3-D Secure checkout never looks abandoned between two heartbeats.
    const idleMs = Math.max(100, Math.min(config.STATUS_EVENTS_HEARTBEAT_MS, config.PAYMENT_ABANDON_AFTER_MS > 0 ? Math.floor(config.PAYMENT_ABANDON_AFTER_MS / 3) : Infinity));
    const open = () => {
      if (res.headersSent) return;
      res.status(200).set({
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        // Proxies (nginx) would otherwise hold events back to fill a buffer.
        'X-Accel-Buffering': 'no',
      });
      res.flushHeaders();
      res.write(`retry: ${RECONNECT_AFTER_MS}\n\n`);
    };
    try {
      const events = followCheckout(ctx.checkoutDeps(req), checkoutId, { ...(query.lastEventId !== undefined ? { afterVersion: query.lastEventId } : {}), idleMs, signal });
      for await (const event of events) {
        open();
        if (event.kind === 'idle') {
          res.write(': heartbeat\n\n');
          continue;
        }
        const { state } = event.read;
        const view = await buyerView(ctx, state);
        res.write(`${state.version !== undefined ? `id: ${state.version}\n` : ''}data: ${JSON.stringify(view)}\n\n`);
      }
    } catch (err) {
      // Before the stream opened, the error handler answers; after, the client reconnects with Last-Event-ID.
      if (!res.headersSent) throw err;
      req.log.warn({ err, checkoutId }, 'status event stream broken off');
    }
    // 204 only for a client that already has the ending: it tells an EventSource to stop for good.
    // A stream that merely lived its time opens (if it never did) and ends, so the client comes back.
    if (expired.aborted || ctx.deps.shutdownSignal?.aborted) open();
    if (!res.headersSent) res.status(204).set('Cache-Control', 'no-store');
    res.end();
  });

  router.post('/:id/cancel', ctx.limits.cancels, async (req, res) => {
    const checkoutId = parseCheckoutId(req.params.id);
    const body = parseInput(cancelCheckoutSchema, req.body);
    await assertBuyerOf(ctx.deps.db, checkoutId, presentedCheckoutSecrets(req));
    const { state } = await cancelCheckout(ctx.checkoutDeps(req), checkoutId, { reason: body.reason ?? 'Cancelled by the customer', requestedBy: 'api' });
    // Accepted now, cancelled before it started, or cancelled already: the buyer wanted it cancelled, and it is or will be.
    res
      .status(202)
      .location(statusUrl(checkoutId))
      .json({ checkoutId, status: state.status, statusUrl: statusUrl(checkoutId) });
  });

  return router;
}

/** An EventSource whose stream broke asks again this soon (its default is browser-specific). */
const RECONNECT_AFTER_MS = 1_000;

/** What the buyer sees of a state: the customer view, with the sign-in link once done and the challenge while one is open. */
async function buyerView(ctx: ApiContext, state: CheckoutRecord): Promise<CheckoutStatusView> {
  const [signIn, action] = await Promise.all([checkoutSignIn(ctx.deps, state), ctx.paymentActions.of(state)]);
  return customerView(state, { signIn, action });
}

/** The `wait` preference of a `Prefer` header (RFC 7240) in seconds, capped; 0 when absent or not a whole number (a preference the server may ignore). */
export function preferredWaitSeconds(header: string | undefined): number {
  if (!header) return 0;
  for (const preference of header.split(',')) {
    const match = /^\s*wait\s*=\s*"?(\d{1,6})"?\s*(?:;.*)?$/i.exec(preference);
    if (match) return Math.min(Number(match[1]), MAX_PREFER_WAIT_SECONDS);
  }
  return 0;
}

/**
 * Follows a new checkout from its change feed until its payment is decided (paid, authorized, a
 * challenge for the buyer, or the checkout ended), or `timeoutMs` passed: then the plain 202.
 */
async function waitForPaymentDecision(ctx: ApiContext, req: Request, checkoutId: string, timeoutMs: number, res: Response): Promise<CheckoutStatusView | undefined> {
  const closed = new AbortController();
  res.on('close', () => closed.abort());
  const { state, timedOut } = await waitForCheckout(ctx.checkoutDeps(req), checkoutId, paymentDecided, timeoutMs, closed.signal);
  if (timedOut || closed.signal.aborted) return undefined;
  return buyerView(ctx, state);
}

function paymentDecided(state: CheckoutRecord): boolean {
  return state.status === 'REQUIRES_ACTION' || ['processing', 'authorized', 'succeeded', 'failed', 'canceled', 'refunded'].includes(state.payment.status);
}

/** Body and header errors are reported together, so a client fixes everything in one round. */
function parseStartRequest(req: Request): { request: StartCheckoutRequest; idempotencyKey?: string } {
  const errors: FieldError[] = [];
  const rawKey = req.get('idempotency-key');
  const key = rawKey === undefined ? undefined : idempotencyKeySchema.safeParse(rawKey);
  if (key && !key.success) errors.push(...toFieldErrors(key.error, 'Idempotency-Key').map((e) => ({ ...e, field: 'Idempotency-Key' })));
  const body = startCheckoutSchema.safeParse(req.body);
  if (!body.success) errors.push(...toFieldErrors(body.error));
  if (errors.length > 0 || !body.success) throw new InvalidInputError(errors);
  return { request: body.data, ...(key?.success ? { idempotencyKey: key.data } : {}) };
}

/** A path segment that is not a UUID names no checkout: 404, and PostgreSQL never sees it. */
function parseCheckoutId(raw: string | string[] | undefined): string {
  const parsed = checkoutIdSchema.safeParse(raw);
  if (!parsed.success) throw new CheckoutNotFoundError();
  return parsed.data.toLowerCase();
}
