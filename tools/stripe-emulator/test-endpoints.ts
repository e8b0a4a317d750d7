import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { AuthorizationExpiry } from './authorization-expiry';
import type { EmulatorClock } from './clock';
import { StripeApiError } from './errors';
import { faultSpecSchema, type FaultInjector } from './faults';
import type { IdempotencyStore } from './idempotency';
import { EmulatorStateError, clone, type Ledger } from './ledger';
import type { EmulatorStore, IntentRecord, Metadata } from './store';
import { challengePage, errorPage, resultPage } from './three-d-secure-page';
import type { WebhookDispatcher } from './webhooks';

/**
 * `/_emulator/*`: what Stripe's dashboard, a bank or a card network would do, exposed as HTTP so
 * tests and people can drive a payment to any outcome, inject failures and see what happened.
 * Not part of Stripe's API, so never validated by stripe-mock and needing no API key.
 */

interface Deps {
  ledger: Ledger;
  store: EmulatorStore;
  webhooks: WebhookDispatcher;
  faults: FaultInjector;
  idempotency: IdempotencyStore;
  clock: EmulatorClock;
  expiry: AuthorizationExpiry;
  validatesWithStripeMock: boolean;
}

const outcomeBody = z.object({ outcome: z.enum(['succeed', 'fail']) });
const externalRefundBody = z.object({
  amount: z.coerce.number().int().positive().optional(),
  reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer']).optional(),
});
const disputeBody = z.object({ reason: z.string().min(1).default('fraudulent'), amount: z.coerce.number().int().positive().optional() });
const disputeCloseBody = z.object({ outcome: z.enum(['won', 'lost']) });
const advanceBody = z.strictObject({ seconds: z.number().int().positive().max(366 * 24 * 3600) });
const releaseBody = z.strictObject({
  order: z.enum(['emitted', 'reversed', 'shuffled']).default('emitted'),
  times: z.number().int().min(1).max(5).default(1),
});

class BadRequest extends Error {}

export function testEndpoints({ ledger, store, webhooks, faults, idempotency, clock, expiry, validatesWithStripeMock }: Deps): Router {
  const router = express.Router();
  router.use(express.json(), express.urlencoded({ extended: false }));

  router.get('/health', (_req, res) => {
    res.json({ status: 'ok', stripeMockValidation: validatesWithStripeMock });
  });

  router.get('/3ds/:id', (req, res) => {
    const record = store.intent(req.params.id);
    if (!record) {
      res.status(404).type('html').send(errorPage('Payment not found', `There is no payment ${req.params.id} on this emulator.`));
      return;
    }
    res.type('html').send(challengePage(record.object));
  });

  router.post('/payment_intents/:id/authenticate', (req, res) => {
    const fromBrowser = req.is('application/x-www-form-urlencoded') === 'application/x-www-form-urlencoded';
    let record: IntentRecord;
    try {
      const { outcome } = parse(outcomeBody, req.body);
      ledger.completeAuthentication(req.params.id, outcome);
      record = ledger.intentOrThrow(req.params.id);
    } catch (err) {
      if (!fromBrowser) throw err;
      const { status, message } = describe(err);
      res.status(status).type('html').send(errorPage('Authentication not possible', message));
      return;
    }
    const redirectUrl = record.returnUrl ? stripeReturnUrl(record) : null;
    if (fromBrowser) {
      // The page's form posts here: send the customer on like Stripe does after a challenge.
      if (redirectUrl) res.redirect(303, redirectUrl);
      else res.type('html').send(resultPage(record.object));
      return;
    }
    res.json({ payment_intent: clone(record.object), redirect_url: redirectUrl });
  });

  router.post('/payment_intents/:id/settle', (req, res) => {
    const { outcome } = parse(outcomeBody, req.body);
    res.json({ payment_intent: clone(ledger.settleProcessing(req.params.id, outcome)) });
  });

  router.post('/payment_intents/:id/expire-authorization', (req, res) => {
    res.json({ payment_intent: clone(ledger.expireAuthorization(req.params.id)) });
  });

  router.post('/charges/:id/refund-externally', (req, res) => {
    const { amount, reason } = parse(externalRefundBody, req.body ?? {});
    const charge = ledger.chargeOrThrow(req.params.id);
    const refund = ledger.refund({ charge: charge.id, amount, reason, metadata: {} }, null);
    res.status(201).json({ refund: clone(refund), charge: clone(charge) });
  });

  router.post('/charges/:id/dispute', (req, res) => {
    const { reason, amount } = parse(disputeBody, req.body ?? {});
    const charge = ledger.chargeOrThrow(req.params.id);
    const dispute = ledger.dispute(charge.id, { reason, amount });
    res.status(201).json({ dispute: clone(dispute), charge: clone(charge) });
  });

  router.post('/disputes/:id/evidence', (req, res) => {
    res.json({ dispute: clone(ledger.submitDisputeEvidence(req.params.id)) });
  });

  router.post('/disputes/:id/close', (req, res) => {
    const { outcome } = parse(disputeCloseBody, req.body);
    const dispute = ledger.closeDispute(req.params.id, outcome);
    res.json({ dispute: clone(dispute), charge: clone(ledger.chargeOrThrow(dispute.charge)) });
  });

  router.post('/faults', (req, res) => {
    res.status(201).json({ fault: faults.add(parse(faultSpecSchema, req.body)) });
  });
  router.get('/faults', (_req, res) => {
    res.json({ faults: faults.list() });
  });
  router.delete('/faults', (_req, res) => {
    faults.clear();
    res.json({ faults: [] });
  });

  router.post('/clock/advance', (req, res) => {
    const { seconds } = parse(advanceBody, req.body);
    clock.advance(seconds * 1000);
    // What the jump passed has happened: authorizations it outlived expire now, not at the next request.
    expiry.sweep();
    res.json({ now: new Date(clock.now()).toISOString(), offsetSeconds: clock.offsetSeconds });
  });
  router.get('/clock', (_req, res) => {
    res.json({ now: new Date(clock.now()).toISOString(), offsetSeconds: clock.offsetSeconds });
  });

  router.post('/webhooks/hold', (_req, res) => {
    webhooks.hold();
    res.json({ holding: true });
  });
  router.post('/webhooks/release', (req, res) => {
    const { order, times } = parse(releaseBody, req.body ?? {});
    res.status(202).json({ deliveries: webhooks.release(order, times) });
  });

  router.get('/state', (req, res) => {
    const filter = metadataFilter(req.query);
    const intents = [...store.intents.values()].filter((r) => matchesMetadata(r.object.metadata, filter));
    const ids = new Set(intents.map((r) => r.object.id));
    const successfulCharges: Record<string, number> = {};
    const capturedCharges: Record<string, number> = {};
    for (const { object } of intents) {
      const succeeded = store.chargesOf(object.id).filter((c) => c.status === 'succeeded');
      successfulCharges[object.id] = succeeded.length;
      capturedCharges[object.id] = succeeded.filter((c) => c.captured).length;
    }
    res.json({
      paymentIntents: intents.map(({ object, returnUrl }) => ({
        ...clone(object),
        return_url: returnUrl,
        charges: clone(store.chargesOf(object.id)),
        refunds: clone(store.refundsOf(object.id)),
        disputes: clone(store.disputesOf(object.id)),
      })),
      successfulCharges,
      capturedCharges,
      requests: store.requests.filter(
        (r) => Object.keys(filter).length === 0 || (r.paymentIntent !== null && ids.has(r.paymentIntent)) || matchesMetadata(r.metadata, filter),
      ),
    });
  });

  router.get('/events', (req, res) => {
    const filter = metadataFilter(req.query);
    const type = typeof req.query.type === 'string' ? req.query.type : undefined;
    const paymentIntent = typeof req.query.payment_intent === 'string' ? req.query.payment_intent : undefined;
    const events = webhooks.events.filter(({ event }) => {
      const object = event.data.object as { id?: string; payment_intent?: string; metadata?: Metadata };
      return (
        (!type || event.type === type) &&
        (!paymentIntent || object.id === paymentIntent || object.payment_intent === paymentIntent) &&
        matchesMetadata(object.metadata ?? null, filter)
      );
    });
    res.json({ events });
  });

  router.post('/events/:id/redeliver', (req, res) => {
    const record = webhooks.redeliver(req.params.id);
    if (!record) throw new NotFound(`No such event: ${req.params.id}`);
    res.status(202).json(record);
  });

  /** Forgets every object, event, idempotency key, fault and logged request, and the clock's offset; keeps webhook endpoints. */
  router.post('/reset', (_req, res) => {
    store.clear();
    webhooks.clear();
    idempotency.clear();
    faults.clear();
    clock.reset();
    expiry.reschedule();
    res.json({ status: 'reset' });
  });

  router.use((_req, res) => {
    res.status(404).json({ error: { message: 'No such emulator endpoint' } });
  });
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const { status, message, body } = describe(err);
    if (status >= 500) return next(err);
    res.status(status).json(body ?? { error: { message } });
  });
  return router;
}

class NotFound extends Error {}

function describe(err: unknown): { status: number; message: string; body?: unknown } {
  if (err instanceof StripeApiError) return { status: err.status, message: err.message, body: err.toJSON() };
  if (err instanceof EmulatorStateError) return { status: 409, message: err.message };
  if (err instanceof BadRequest) return { status: 400, message: err.message };
  if (err instanceof NotFound) return { status: 404, message: err.message };
  const status = (err as { status?: unknown }).status;
  // body-parser's refusals (malformed JSON, oversized body) carry their own 4xx.
  if (typeof status === 'number' && status >= 400 && status < 500) return { status, message: `Invalid request body: ${(err as Error).message}` };
  return { status: 500, message: 'Internal error' };
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) {
    throw new BadRequest(result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  }
  return result.data;
}

/** Where Stripe sends the customer after a redirect-based authentication, with the query it appends. */
function stripeReturnUrl(record: IntentRecord): string {
  const url = new URL(record.returnUrl!);
  url.searchParams.set('payment_intent', record.object.id);
  url.searchParams.set('payment_intent_client_secret', record.object.client_secret);
  url.searchParams.set('redirect_status', record.object.status === 'succeeded' ? 'succeeded' : 'failed');
  return url.toString();
}

/** `?metadata.checkoutId=X` (or `?metadata[checkoutId]=X`): the metadata every listed object must carry. */
function metadataFilter(query: Request['query']): Metadata {
  const filter: Metadata = {};
  for (const [key, value] of Object.entries(query)) {
    if (key.startsWith('metadata.') && typeof value === 'string') filter[key.slice('metadata.'.length)] = value;
    if (key === 'metadata' && value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) if (typeof v === 'string') filter[k] = v;
    }
  }
  return filter;
}

function matchesMetadata(metadata: Metadata | null, filter: Metadata): boolean {
  return Object.entries(filter).every(([key, value]) => metadata?.[key] === value);
}
