import { Router, type Request } from 'express';
import { cancelCheckout } from '../../application/checkouts/cancel';
import { assertBuyerOf, CHECKOUT_SECRET_COOKIE } from '../../application/checkouts/checkout-secret';
import { CheckoutNotFoundError, CheckoutsBusyError } from '../../application/checkouts/errors';
import {
  cancelCheckoutSchema,
  checkoutIdSchema,
  idempotencyKeySchema,
  startCheckoutSchema,
  statusQuerySchema,
  type StartCheckoutRequest,
} from '../../application/checkouts/schemas';
import { startCheckout } from '../../application/checkouts/start';
import { getCheckoutStatus } from '../../application/checkouts/status';
import { InvalidInputError, type FieldError } from '../../application/errors';
import { checkoutSignIn } from '../../application/sign-in/checkout-sign-in';
import { parseInput, toFieldErrors } from '../../application/validation';
import { checkoutSecretCookieOptions, presentedCheckoutSecrets } from '../auth';
import { customerView } from '../checkout-view';
import type { ApiContext } from './context';

const statusUrl = (checkoutId: string) => `/api/checkouts/${checkoutId}`;

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
    res
      .status(202)
      .location(url)
      // The browser keeps it (HttpOnly) and sends it back on this checkout's paths only; an API client takes it from the body.
      .cookie(CHECKOUT_SECRET_COOKIE, result.checkoutSecret, checkoutSecretCookieOptions(ctx.deps.config.APP_URL, url))
      .set('Cache-Control', 'no-store')
      .json({ checkoutId: result.checkoutId, status: result.status, statusUrl: url, checkoutSecret: result.checkoutSecret });
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
    const signIn = await checkoutSignIn(ctx.deps, state);
    // The body may hold a login link and a client secret: never cache it anywhere.
    res.set({ 'Cache-Control': 'no-store', 'X-Status-Source': source }).json(customerView(state, signIn));
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
