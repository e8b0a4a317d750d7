import { createHmac } from 'node:crypto';
import Stripe from 'stripe';
import type { Logger } from '../../src/logger';
import { clone, type EventOrigin } from './ledger';
import { newId, unixNow } from './ids';
import type { Metadata } from './store';

/**
 * Webhook endpoints and event delivery as Stripe does them: every event is signed with the endpoint's
 * secret (`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, a new timestamp
 * on each attempt), posted as pretty-printed JSON (so a receiver that verifies a re-serialized body
 * instead of the raw one fails here as it would in production), outside the API request that caused
 * it, and retried with backoff on anything but a 2xx. Delivery is at-least-once and unordered; a test
 * can hold deliveries and release them in another order or more than once (`hold`, `release`) to
 * show a receiver copes with what Stripe does not promise.
 */

export interface WebhookRetryPolicy {
  /** Attempts per event and endpoint, the first included. */
  maxAttempts: number;
  initialDelayMs: number;
  backoffFactor: number;
  maxDelayMs: number;
  /** How long a receiver may take to answer one attempt. */
  timeoutMs: number;
}

/** Five attempts over about a minute (2s, 5s, 12.5s, 30s): long enough to ride out a restarting receiver, short enough for a test run. */
export const DEFAULT_WEBHOOK_RETRY_POLICY: WebhookRetryPolicy = {
  maxAttempts: 5,
  initialDelayMs: 2_000,
  backoffFactor: 2.5,
  maxDelayMs: 30_000,
  timeoutMs: 10_000,
};

/** The API version events are rendered in: the one the project's stripe SDK pins. */
export const EVENT_API_VERSION: string = Stripe.API_VERSION;

export interface WebhookEndpointObject {
  id: string;
  object: 'webhook_endpoint';
  api_version: string | null;
  application: null;
  created: number;
  description: string | null;
  enabled_events: string[];
  livemode: false;
  metadata: Metadata;
  secret?: string;
  status: 'enabled';
  url: string;
}

export interface EventObject {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: object };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

export interface DeliveryAttempt {
  at: string;
  /** The receiver's HTTP status, or null when it could not be reached or timed out. */
  status: number | null;
  error: string | null;
  durationMs: number;
}

export interface Delivery {
  endpointId: string;
  url: string;
  /** `held`: waiting for `release()`, as asked through /_emulator/webhooks/hold. */
  state: 'held' | 'pending' | 'delivered' | 'failed';
  attempts: DeliveryAttempt[];
  nextAttemptAt: string | null;
}

export interface EventRecord {
  event: EventObject;
  deliveries: Delivery[];
}

/** The order held deliveries go out in: as the events happened, newest first, or at random. */
export type ReleaseOrder = 'emitted' | 'reversed' | 'shuffled';

/** Stripe's signature scheme, v1: HMAC-SHA256 keyed with the whole `whsec_...` string. */
export function stripeSignatureHeader(secret: string, payload: string, timestamp: number = unixNow()): string {
  const signature = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${signature}`;
}

export class WebhookDispatcher {
  private readonly endpoints = new Map<string, WebhookEndpointObject>();
  readonly events: EventRecord[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<AbortController>();
  private closed = false;
  private holding = false;
  private held: { record: EventRecord; delivery: Delivery }[] = [];

  constructor(
    /** Every endpoint signs with the one secret the service is configured with (Stripe gives each its own). */
    private readonly secret: string,
    private readonly retry: WebhookRetryPolicy,
    private readonly logger: Logger,
  ) {}

  registerEndpoint(input: { url: string; enabledEvents: string[]; description?: string; metadata?: Metadata; apiVersion?: string }): WebhookEndpointObject {
    const endpoint: WebhookEndpointObject = {
      id: newId('we'),
      object: 'webhook_endpoint',
      api_version: input.apiVersion ?? null,
      application: null,
      created: unixNow(),
      description: input.description ?? null,
      enabled_events: input.enabledEvents,
      livemode: false,
      metadata: input.metadata ?? {},
      status: 'enabled',
      url: input.url,
    };
    this.endpoints.set(endpoint.id, endpoint);
    this.logger.info({ endpoint: endpoint.id, url: redactUrl(endpoint.url), enabledEvents: endpoint.enabled_events }, 'webhook endpoint registered');
    // Like Stripe, the secret is shown only in the answer to the creation.
    return { ...clone(endpoint), secret: this.secret };
  }

  endpoint(id: string): WebhookEndpointObject | undefined {
    const endpoint = this.endpoints.get(id);
    return endpoint && clone(endpoint);
  }

  listEndpoints(): WebhookEndpointObject[] {
    return [...this.endpoints.values()].map(clone);
  }

  deleteEndpoint(id: string): boolean {
    return this.endpoints.delete(id);
  }

  event(id: string): EventRecord | undefined {
    return this.events.find((r) => r.event.id === id);
  }

  /** Records the event with a snapshot of the object as it is now, and delivers it in the background. */
  emit(type: string, object: object, origin: EventOrigin): EventObject {
    const recipients = [...this.endpoints.values()].filter((e) => e.enabled_events.includes('*') || e.enabled_events.includes(type));
    const event: EventObject = {
      id: newId('evt'),
      object: 'event',
      api_version: EVENT_API_VERSION,
      created: unixNow(),
      data: { object: clone(object) },
      livemode: false,
      pending_webhooks: recipients.length,
      request: { id: origin?.requestId ?? null, idempotency_key: origin?.idempotencyKey ?? null },
      type,
    };
    const record: EventRecord = { event, deliveries: [] };
    this.events.push(record);
    for (const endpoint of recipients) this.startDelivery(record, endpoint);
    return event;
  }

  /** Sends an event again to every endpoint that takes it, as Stripe's "Resend" does: a duplicate the receiver must absorb. */
  redeliver(eventId: string): EventRecord | undefined {
    const record = this.event(eventId);
    if (!record) return undefined;
    for (const endpoint of this.endpoints.values()) {
      if (endpoint.enabled_events.includes('*') || endpoint.enabled_events.includes(record.event.type)) this.startDelivery(record, endpoint);
    }
    return record;
  }

  /** From now on deliveries wait (state `held`) until `release()`; events are still recorded as they happen. */
  hold(): void {
    this.holding = true;
  }

  /**
   * Sends every held delivery, one after the other in the given order (each waits for the previous
   * one's first attempt, so they arrive in that order), `times` times each as duplicates with the
   * same event id, then goes back to delivering events as they happen. Failed attempts are retried
   * with the usual backoff. Returns what goes out, in order.
   */
  release(order: ReleaseOrder, times: number): { event: string; type: string; endpointId: string }[] {
    this.holding = false;
    const held = this.held.splice(0);
    if (order === 'reversed') held.reverse();
    if (order === 'shuffled') shuffle(held);
    const planned = held.flatMap(({ record, delivery }) => [
      { record, delivery },
      ...Array.from({ length: times - 1 }, () => ({ record, delivery: this.newDelivery(record, delivery.endpointId, delivery.url) })),
    ]);
    void (async () => {
      for (const { record, delivery } of planned) {
        if (this.closed) return;
        delivery.state = 'pending';
        await this.attempt(record, delivery);
      }
    })();
    return planned.map(({ record, delivery }) => ({ event: record.event.id, type: record.event.type, endpointId: delivery.endpointId }));
  }

  clear(): void {
    this.cancelPending();
    this.events.length = 0;
  }

  close(): void {
    this.closed = true;
    this.cancelPending();
  }

  private cancelPending(): void {
    this.holding = false;
    this.held = [];
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.inFlight) controller.abort();
    this.inFlight.clear();
  }

  private startDelivery(record: EventRecord, endpoint: WebhookEndpointObject): void {
    const delivery = this.newDelivery(record, endpoint.id, endpoint.url);
    if (this.holding) {
      delivery.state = 'held';
      this.held.push({ record, delivery });
      return;
    }
    // A timer, never an await: the API answers without waiting for any receiver.
    this.schedule(record, delivery, 0);
  }

  private newDelivery(record: EventRecord, endpointId: string, url: string): Delivery {
    const delivery: Delivery = { endpointId, url, state: 'pending', attempts: [], nextAttemptAt: null };
    record.deliveries.push(delivery);
    return delivery;
  }

  private schedule(record: EventRecord, delivery: Delivery, delayMs: number): void {
    if (this.closed) return;
    delivery.nextAttemptAt = new Date(Date.now() + delayMs).toISOString();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.attempt(record, delivery);
    }, delayMs);
    this.timers.add(timer);
  }

  private async attempt(record: EventRecord, delivery: Delivery): Promise<void> {
    delivery.nextAttemptAt = null;
    const endpoint = this.endpoints.get(delivery.endpointId);
    if (!endpoint) {
      delivery.state = 'failed';
      return;
    }
    const payload = JSON.stringify(record.event, null, 2);
    const controller = new AbortController();
    this.inFlight.add(controller);
    const timeout = setTimeout(() => controller.abort(new Error(`no answer within ${this.retry.timeoutMs}ms`)), this.retry.timeoutMs);
    const started = Date.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const response = await fetch(endpoint.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json; charset=utf-8',
          'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          'Cache-Control': 'no-cache',
          'Stripe-Signature': stripeSignatureHeader(this.secret, payload),
        },
        body: payload,
        // Stripe does not follow redirects: a 3xx is a failed delivery.
        redirect: 'manual',
        signal: controller.signal,
      });
      status = response.status;
      await response.arrayBuffer().catch(() => undefined);
    } catch (err) {
      error = describeFailure(err, controller.signal);
    } finally {
      clearTimeout(timeout);
      this.inFlight.delete(controller);
    }
    if (this.closed) return;
    delivery.attempts.push({ at: new Date(started).toISOString(), status, error, durationMs: Date.now() - started });
    const log = { event: record.event.id, type: record.event.type, endpoint: endpoint.id, attempt: delivery.attempts.length, status, error };
    if (status !== null && status >= 200 && status < 300) {
      delivery.state = 'delivered';
      this.logger.debug(log, 'webhook delivered');
      return;
    }
    if (delivery.attempts.length >= this.retry.maxAttempts) {
      delivery.state = 'failed';
      this.logger.warn(log, 'webhook delivery failed; no attempts left');
      return;
    }
    const delay = Math.min(this.retry.initialDelayMs * this.retry.backoffFactor ** (delivery.attempts.length - 1), this.retry.maxDelayMs);
    this.logger.info({ ...log, retryInMs: delay }, 'webhook delivery failed; will retry');
    this.schedule(record, delivery, delay);
  }
}

/** Fisher-Yates, in place. */
function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

function describeFailure(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) return signal.reason instanceof Error ? signal.reason.message : 'aborted';
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? err.message;
  }
  return String(err);
}

/** Receivers' URLs may carry tokens in their query string; logs keep only where they point. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '[invalid url]';
  }
}
