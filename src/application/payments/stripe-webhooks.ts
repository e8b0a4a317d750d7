import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { and, eq, inArray } from 'drizzle-orm';
import Stripe from 'stripe';
import { z } from 'zod';
import { checkouts, payments, stripeEvents } from '../../../db/schema';
import { InvalidWebhookError, InvalidWebhookEventError } from './errors';
import { rethrowTemporalUnavailable } from '../temporal-errors';
import { latestFeedEntry } from '../checkouts/status-feed';
import { forbiddenCharacter, toFieldErrors } from '../validation';
import type { Database } from '../../../db/client';
import type { Logger } from '../../logger';
import { checkoutWorkflowId, paymentEventSignal, TERMINAL_STATUSES, type PaymentEventSignal } from '../../workflows/checkout/contract';

/** Stripe's own default: a signature older than five minutes is a replay, not a delivery. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * How each accepted event ended, stored in `stripe_events.outcome`:
 * - `signalled`: sent to the owning checkout's workflow;
 * - `unknown_intent`: no checkout of ours owns it (another integration on the account, or a test);
 * - `workflow_closed`: the checkout exists but its saga has finished, so there is nobody to tell;
 * - `not_awaited`: its saga is not waiting on the payment (it learned the outcome from the confirm,
 *   or has moved on): a signal would only cost it a workflow task;
 * - `handled` / `recorded`: a charge event given to the charge handler, or kept for ops when none is wired;
 * - `ignored`: a type this service does not act on.
 * Until routing succeeds the row says `received` (recorded; routing under way, or cut off by a
 * crash) or `failed` (routing failed): the next delivery of the event routes it again. Rows written
 * before this rule may say `processing`, which means the same as `received`.
 */
export type WebhookOutcome = 'signalled' | 'unknown_intent' | 'workflow_closed' | 'not_awaited' | 'handled' | 'recorded' | 'ignored';

const ROUTED: readonly string[] = ['signalled', 'unknown_intent', 'workflow_closed', 'not_awaited', 'handled', 'recorded', 'ignored'] satisfies WebhookOutcome[];
const NOT_YET_ROUTED = ['received', 'processing', 'failed'];

export type ChargeEventHandler = (event: Stripe.Event) => Promise<void> | void;

export interface StripeWebhookDeps {
  db: Database;
  temporal: Client;
  webhookSecret: string;
  logger: Logger;
  /** External refunds and disputes; wired by the refund flow. Without it such events are only recorded. */
  onChargeEvent?: ChargeEventHandler;
  /** A signal needs only the Temporal frontend (no worker); beyond this, Stripe should retry later. */
  signalTimeoutMs: number;
}

export interface WebhookResult {
  eventId: string;
  type: string;
  outcome: WebhookOutcome | 'duplicate';
}

/** Disputes of an order's charge, from opened to decided (and the money Stripe moves for them). */
export const DISPUTE_EVENTS: ReadonlySet<string> = new Set([
  'charge.dispute.created',
  'charge.dispute.updated',
  'charge.dispute.closed',
  'charge.dispute.funds_withdrawn',
  'charge.dispute.funds_reinstated',
]);
const CHARGE_EVENTS = new Set(['charge.refunded', ...DISPUTE_EVENTS]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Verifies, records and routes one Stripe delivery. It only writes a row and sends a signal, so it
 * answers well inside Stripe's timeout. Recording never stands in the way of routing: the row is
 * written as `received` and gets its final outcome only once routing succeeded, so a delivery that
 * finds it `received` or `failed` (the process died in between, or Temporal was down) routes the
 * event again, while one that finds it routed is a duplicate and does nothing. Two deliveries at
 * once may both route it: every signal carries the Stripe event id and the saga takes it as a
 * hint, and a charge event starts a workflow whose id is the event's, so routing twice is harmless.
 */
export async function handleStripeWebhook(deps: StripeWebhookDeps, rawBody: Buffer, signature: string | undefined): Promise<WebhookResult> {
  const event = readEvent(verify(rawBody, signature, deps.webhookSecret), deps.logger);
  const owner = await findOwner(deps.db, event);
  const log = deps.logger.child({ stripeEventId: event.id, eventType: event.type, ...owner });

  if (!(await recordUnlessRouted(deps.db, event, owner))) {
    log.info('duplicate Stripe event ignored');
    return { eventId: event.id, type: event.type, outcome: 'duplicate' };
  }
  try {
    const outcome = await route(deps, event, owner);
    await setOutcome(deps.db, event.id, outcome);
    log.info({ outcome }, 'Stripe event routed');
    return { eventId: event.id, type: event.type, outcome };
  } catch (err) {
    await markFailed(deps.db, event.id).catch((markErr: unknown) => log.error({ err: markErr }, 'could not mark Stripe event as failed'));
    log.warn({ err }, 'Stripe event could not be routed; Stripe will retry it');
    throw err;
  }
}

function verify(rawBody: Buffer, signature: string | undefined, secret: string): unknown {
  if (!signature) throw new InvalidWebhookError();
  try {
    return Stripe.webhooks.constructEvent(rawBody, signature, secret, WEBHOOK_TOLERANCE_SECONDS);
  } catch {
    // Forged, stale, or signed but not JSON: the same 400, and nothing of it is recorded.
    throw new InvalidWebhookError();
  }
}

/** Stripe ids are letters, digits and underscores (test fixtures add hyphens); nothing else is an id. */
const objectId = z
  .string({ error: 'must be a Stripe object id' })
  .max(255, 'must be at most 255 characters')
  .regex(/^[\w-]+$/, 'must be a Stripe object id');
/** Stripe's codes (`card_declined`, `authentication_required`): they end up in rows and in the saga's failure codes. */
const stripeCode = z
  .string({ error: 'must be a Stripe code' })
  .max(100, 'must be at most 100 characters')
  .regex(/^[\w.-]+$/, 'must be a Stripe code');
const objectOrId = z.union([objectId, z.looseObject({ id: objectId })], { error: 'must be a Stripe object id or an object with one' });
const eventType = z
  .string({ error: 'must be a Stripe event type' })
  .max(100, 'must be at most 100 characters')
  .regex(/^[a-z0-9_.]+$/, 'must be a Stripe event type');

/** The envelope of every event: what is read is checked, and every other field may hold anything. */
export const eventEnvelope = z.looseObject(
  {
    id: objectId.regex(/^evt_/, 'must be a Stripe event id (evt_...)'),
    type: eventType,
    data: z.looseObject({ object: z.looseObject({}, { error: 'must be an object' }) }, { error: 'must be an object with an object in it' }),
  },
  { error: 'must be a Stripe event (a JSON object)' },
);

/** What routing and the charge handler read of each type's `data.object`. */
function objectSchemaOf(type: string): z.ZodType | undefined {
  if (type.startsWith('payment_intent.')) {
    return z.looseObject({
      id: objectId,
      status: z.string({ error: 'must be a PaymentIntent status' }).regex(/^[a-z_]{1,50}$/, 'must be a PaymentIntent status'),
      last_payment_error: z
        .looseObject(
          { code: stripeCode.nullish(), decline_code: stripeCode.nullish(), message: z.string({ error: 'must be a string' }).nullish() },
          { error: 'must be an object' },
        )
        .nullish(),
    });
  }
  if (type === 'charge.refunded') return z.looseObject({ id: objectId, payment_intent: objectOrId.nullish() });
  if (DISPUTE_EVENTS.has(type)) return z.looseObject({ id: objectId, charge: objectOrId, payment_intent: objectOrId.nullish() });
  return undefined;
}

/**
 * The verified body as an event this service can act on, or a 400 naming what is wrong with it.
 * A signed body of the wrong shape is a sender's bug that no retry fixes, not our 500: it is logged
 * (its id and type when they are sane, and the field paths; never the payload) and refused.
 */
function readEvent(body: unknown, logger: Logger): Stripe.Event {
  const envelope = eventEnvelope.safeParse(body);
  const object = envelope.success ? objectSchemaOf(envelope.data.type)?.safeParse(envelope.data.data.object) : undefined;
  const errors = !envelope.success
    ? toFieldErrors(envelope.error, 'event')
    : object && !object.success
      ? toFieldErrors(object.error, '').map((e) => ({ ...e, field: e.field ? `data.object.${e.field}` : 'data.object' }))
      : [];
  if (errors.length === 0) return body as Stripe.Event;

  const { id, type } = (body !== null && typeof body === 'object' ? body : {}) as { id?: unknown; type?: unknown };
  logger.warn(
    {
      ...(objectId.safeParse(id).success ? { stripeEventId: id } : {}),
      ...(eventType.safeParse(type).success ? { eventType: type } : {}),
      problems: errors,
    },
    'Stripe event refused: not shaped like a Stripe event',
  );
  throw new InvalidWebhookEventError(errors);
}

interface Owner {
  paymentIntentId?: string;
  checkoutId?: string;
}

/** The checkout an event belongs to: our metadata on the intent first, then the ids we stored. */
async function findOwner(db: Database, event: Stripe.Event): Promise<Owner> {
  const object = event.data.object as unknown as Record<string, unknown>;
  const paymentIntentId =
    event.type.startsWith('payment_intent.') ? stringOrId(object.id) : stringOrId(object.payment_intent);
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  const claimed = typeof metadata.checkoutId === 'string' && UUID.test(metadata.checkoutId) ? metadata.checkoutId : undefined;

  if (claimed) {
    const [row] = await db.select({ id: checkouts.id }).from(checkouts).where(eq(checkouts.id, claimed));
    if (row) return { checkoutId: row.id, ...(paymentIntentId ? { paymentIntentId } : {}) };
  }
  if (!paymentIntentId) return {};
  const [byCheckout] = await db.select({ id: checkouts.id }).from(checkouts).where(eq(checkouts.paymentIntentId, paymentIntentId));
  if (byCheckout) return { paymentIntentId, checkoutId: byCheckout.id };
  const [byPayment] = await db.select({ id: payments.checkoutId }).from(payments).where(eq(payments.paymentIntentId, paymentIntentId));
  return byPayment ? { paymentIntentId, checkoutId: byPayment.id } : { paymentIntentId };
}

/**
 * Records the event as `received`; true unless an earlier delivery already routed it. An event
 * recorded but never routed (its process died in between) or whose routing failed is routed again.
 */
async function recordUnlessRouted(db: Database, event: Stripe.Event, owner: Owner): Promise<boolean> {
  const inserted = await db
    .insert(stripeEvents)
    .values({
      id: event.id,
      type: event.type,
      paymentIntentId: owner.paymentIntentId ?? null,
      checkoutId: owner.checkoutId ?? null,
      outcome: 'received',
      payload: storablePayload(event),
    })
    .onConflictDoNothing({ target: stripeEvents.id })
    .returning({ id: stripeEvents.id });
  if (inserted.length > 0) return true;
  const [earlier] = await db.select({ outcome: stripeEvents.outcome }).from(stripeEvents).where(eq(stripeEvents.id, event.id));
  return !earlier || !ROUTED.includes(earlier.outcome);
}

async function setOutcome(db: Database, eventId: string, outcome: WebhookOutcome): Promise<void> {
  await db.update(stripeEvents).set({ outcome }).where(eq(stripeEvents.id, eventId));
}

/** Only over a row not routed yet: a concurrent delivery that did route the event keeps its outcome. */
async function markFailed(db: Database, eventId: string): Promise<void> {
  await db
    .update(stripeEvents)
    .set({ outcome: 'failed' })
    .where(and(eq(stripeEvents.id, eventId), inArray(stripeEvents.outcome, NOT_YET_ROUTED)));
}

async function route(deps: StripeWebhookDeps, event: Stripe.Event, owner: Owner): Promise<WebhookOutcome> {
  if (event.type.startsWith('payment_intent.')) {
    if (!owner.checkoutId) return 'unknown_intent';
    const saga = await sagaPaymentWait(deps.db, owner.checkoutId);
    if (saga === 'finished') return 'workflow_closed';
    if (saga === 'not_waiting') return 'not_awaited';
    return signalCheckout(deps, owner.checkoutId, toPaymentSignal(event));
  }
  if (CHARGE_EVENTS.has(event.type)) {
    if (!deps.onChargeEvent) return 'recorded';
    await deps.onChargeEvent(event);
    return 'handled';
  }
  return 'ignored';
}

/**
 * Whether the checkout's saga waits on its payment, as its change feed shows (or has finished, and
 * nobody is there to tell): a 3-D Secure challenge
 * or a payment the bank is still processing, which it reports before it waits. A card paid at once
 * is known to the saga from the confirm's own answer, so Stripe's `payment_intent.succeeded` for it
 * is news to no one (signalled, it landed in the middle of the saga's next task and cost it a retry).
 * A checkout without feed rows (its workflow predates the feed) is signalled as before. The signal
 * is only ever a hint: a saga that waits asks Stripe again on its own schedule all the same.
 */
async function sagaPaymentWait(db: Database, checkoutId: string): Promise<'waiting' | 'not_waiting' | 'finished'> {
  const latest = await latestFeedEntry(db, checkoutId);
  if (!latest) return 'waiting';
  const { status, payment } = latest.state;
  if (TERMINAL_STATUSES.includes(status)) return 'finished';
  return status === 'REQUIRES_ACTION' || payment.status === 'requires_action' || payment.status === 'processing' ? 'waiting' : 'not_waiting';
}

/**
 * Every payment_intent event goes to the saga as it came; the saga decides what it means, and it
 * ignores a non-final event after a final one, so out-of-order delivery never needs handling here.
 */
async function signalCheckout(deps: StripeWebhookDeps, checkoutId: string, signal: PaymentEventSignal): Promise<WebhookOutcome> {
  const handle = deps.temporal.workflow.getHandle(checkoutWorkflowId(checkoutId));
  try {
    await deps.temporal.withDeadline(Date.now() + deps.signalTimeoutMs, () => handle.signal(paymentEventSignal, signal));
    return 'signalled';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'workflow_closed';
    return rethrowTemporalUnavailable(err);
  }
}

function toPaymentSignal(event: Stripe.Event): PaymentEventSignal {
  const intent = event.data.object as Stripe.PaymentIntent;
  const error = intent.last_payment_error;
  const failureCode = error?.decline_code ?? error?.code;
  const failureMessage = error?.message ? readableLine(error.message) : undefined;
  return {
    stripeEventId: event.id,
    type: event.type,
    paymentIntentId: intent.id,
    intentStatus: intent.status,
    ...(failureCode ? { failureCode } : {}),
    ...(failureMessage ? { failureMessage } : {}),
  };
}

/** Stripe's decline message may reach a customer and a text column: one line, nothing PostgreSQL refuses, bounded. */
function readableLine(text: string): string {
  let line = '';
  for (const char of text) line += forbiddenCharacter(char) ? ' ' : char;
  return line.replace(/\s+/g, ' ').trim().slice(0, 500);
}

/** Stripe's client secrets (`pi_..._secret_...`) inside other text, e.g. the query of a redirect URL. */
const CLIENT_SECRET_IN_TEXT = /[A-Za-z0-9]+_[A-Za-z0-9]+_secret_[A-Za-z0-9]+/g;
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * The event as `stripe_events.payload` keeps it. A client secret lets whoever holds it complete the
 * payment from a browser, so no copy of one is kept at rest: every field named like a secret is
 * dropped, and a secret inside other text is replaced. PostgreSQL's jsonb cannot hold NUL or an
 * unpaired surrogate; those become U+FFFD, so an event carrying one (in a customer's name, a
 * description) is recorded and routed, not refused until Stripe gives up on it.
 */
export function storablePayload(value: unknown): unknown {
  if (typeof value === 'string') return storableText(value).replace(CLIENT_SECRET_IN_TEXT, '[redacted]');
  if (Array.isArray(value)) return value.map(storablePayload);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !/secret/i.test(key))
        .map(([key, field]) => [storableText(key), storablePayload(field)]),
    );
  }
  return value;
}

const storableText = (text: string) => text.replaceAll('\u0000', '\ufffd').replace(UNPAIRED_SURROGATE, '\ufffd');

function stringOrId(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string') return (value as { id: string }).id;
  return undefined;
}
