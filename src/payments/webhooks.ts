import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { eq, sql } from 'drizzle-orm';
import Stripe from 'stripe';
import { checkouts, payments, stripeEvents } from '../../db/schema';
import { InvalidWebhookError } from '../checkouts/errors';
import { rethrowTemporalUnavailable } from '../checkouts/temporal-errors';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import { checkoutWorkflowId, paymentEventSignal, type PaymentEventSignal } from '../workflows/checkout/contract';

/** Stripe's own default: a signature older than five minutes is a replay, not a delivery. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * How each accepted event ended, stored in `stripe_events.outcome`:
 * - `signalled`: sent to the owning checkout's workflow;
 * - `unknown_intent`: no checkout of ours owns it (another integration on the account, or a test);
 * - `workflow_closed`: the checkout exists but its saga has finished, so there is nobody to tell;
 * - `handled` / `recorded`: a charge event given to the charge handler, or kept for ops when none is wired;
 * - `ignored`: a type this service does not act on;
 * - `processing` / `failed`: in flight, or failed and open to Stripe's next retry.
 */
export type WebhookOutcome = 'signalled' | 'unknown_intent' | 'workflow_closed' | 'handled' | 'recorded' | 'ignored';

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

const CHARGE_EVENTS = new Set(['charge.refunded', 'charge.dispute.created']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Verifies, records and routes one Stripe delivery. It only writes a row and sends a signal, so it
 * answers well inside Stripe's timeout. The row is claimed before routing: a duplicate delivery of
 * a routed event does nothing, while one whose routing failed is routed again on Stripe's retry.
 */
export async function handleStripeWebhook(deps: StripeWebhookDeps, rawBody: Buffer, signature: string | undefined): Promise<WebhookResult> {
  const event = verify(rawBody, signature, deps.webhookSecret);
  const owner = await findOwner(deps.db, event);
  const log = deps.logger.child({ stripeEventId: event.id, eventType: event.type, ...owner });

  if (!(await claim(deps.db, event, owner))) {
    log.info('duplicate Stripe event ignored');
    return { eventId: event.id, type: event.type, outcome: 'duplicate' };
  }
  try {
    const outcome = await route(deps, event, owner);
    await setOutcome(deps.db, event.id, outcome);
    log.info({ outcome }, 'Stripe event routed');
    return { eventId: event.id, type: event.type, outcome };
  } catch (err) {
    await setOutcome(deps.db, event.id, 'failed').catch((markErr: unknown) => log.error({ err: markErr }, 'could not mark Stripe event as failed'));
    log.warn({ err }, 'Stripe event could not be routed; Stripe will retry it');
    throw err;
  }
}

function verify(rawBody: Buffer, signature: string | undefined, secret: string): Stripe.Event {
  if (!signature) throw new InvalidWebhookError();
  try {
    return Stripe.webhooks.constructEvent(rawBody, signature, secret, WEBHOOK_TOLERANCE_SECONDS);
  } catch {
    // Forged, stale, or signed but not JSON: the same 400, and nothing of it is recorded.
    throw new InvalidWebhookError();
  }
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

/** Inserts the event, or takes over one whose earlier routing failed or was abandoned mid-way. */
async function claim(db: Database, event: Stripe.Event, owner: Owner): Promise<boolean> {
  const claimed = await db
    .insert(stripeEvents)
    .values({
      id: event.id,
      type: event.type,
      paymentIntentId: owner.paymentIntentId ?? null,
      checkoutId: owner.checkoutId ?? null,
      outcome: 'processing',
      payload: event,
    })
    .onConflictDoUpdate({
      target: stripeEvents.id,
      set: { outcome: 'processing' },
      setWhere: sql`${stripeEvents.outcome} = 'failed' or (${stripeEvents.outcome} = 'processing' and ${stripeEvents.receivedAt} < now() - interval '1 minute')`,
    })
    .returning({ id: stripeEvents.id });
  return claimed.length > 0;
}

async function setOutcome(db: Database, eventId: string, outcome: WebhookOutcome | 'failed'): Promise<void> {
  await db.update(stripeEvents).set({ outcome }).where(eq(stripeEvents.id, eventId));
}

async function route(deps: StripeWebhookDeps, event: Stripe.Event, owner: Owner): Promise<WebhookOutcome> {
  if (event.type.startsWith('payment_intent.')) {
    if (!owner.checkoutId) return 'unknown_intent';
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
  return {
    stripeEventId: event.id,
    type: event.type,
    paymentIntentId: intent.id,
    intentStatus: intent.status,
    ...(failureCode ? { failureCode } : {}),
    ...(error?.message ? { failureMessage: error.message } : {}),
  };
}

function stringOrId(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string') return (value as { id: string }).id;
  return undefined;
}
