import { randomUUID } from 'node:crypto';
import { createParser } from 'eventsource-parser';
import { HttpTimeoutError, type HttpClient } from './http-client';

/**
 * A customer as the checkout page behaves (src/page/assets/checkout.js): POST /api/checkouts with
 * an Idempotency-Key, then long-poll GET /api/checkouts/:id?waitForChangeMs=25000&sinceVersion=v
 * until the checkout is finished, with the checkout's secret from the POST (the page's browser sends
 * it as a cookie; this client as the Checkout-Secret header). Every customer is new (fresh email),
 * pays with pm_card_visa and buys one of the bench products.
 */

export const FINISHED_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED', 'NEEDS_ATTENTION'];
const PAYMENT_DECIDED = ['succeeded', 'failed', 'canceled', 'refunded'];
/** What the page asks for; the API caps it at 30 s. */
const LONG_POLL_MS = 25_000;

export interface StatusView {
  checkoutId: string;
  status: string;
  step: string | null;
  payment: { status: string };
  version?: number;
}

/** One checkout's timeline, in ms since its POST was sent (performance.now() clock for `sentAt`). */
export interface CheckoutTrace {
  sentAt: number;
  checkoutId?: string;
  /** The checkout's secret from the POST answer: status requests without it are 404. */
  checkoutSecret?: string;
  /** HTTP status of the POST, or 'timeout' / 'error' when none came. */
  postStatus?: number | 'timeout' | 'error';
  postMs?: number;
  retryAfter?: string;
  /** Plain (not long-polling) GETs: the page's first render, and a reload after the end. */
  getMs: number[];
  /** POST sent until a status showed the payment decided. */
  firstAnswerMs?: number;
  /** POST sent until a status showed the checkout finished, and which status. */
  finishedMs?: number;
  finalStatus?: string;
  /** Each Server-Sent Event received: the status version it carries and when (Date.now(), the clock PostgreSQL's recorded_at shares). */
  events?: Array<{ version: number; receivedAt: number; connectedAt: number }>;
  error?: string;
}

/** How a customer waits for the payment's decision and the end: as the page falls back to, or as it does by default. */
export type FollowMode = 'long-poll' | 'events';

export interface CheckoutRequestTimeouts {
  postMs: number;
  getMs: number;
}

export class CheckoutCustomer {
  private counter = 0;

  constructor(
    private readonly http: HttpClient,
    private readonly skus: readonly string[],
    private readonly runId: string,
    private readonly timeouts: CheckoutRequestTimeouts = { postMs: 10_000, getMs: 10_000 },
  ) {}

  newTrace(): CheckoutTrace {
    return { sentAt: performance.now(), getMs: [] };
  }

  /** POST /api/checkouts; fills postStatus/postMs/checkoutId of the trace. True when accepted (202). */
  async submit(trace: CheckoutTrace, { preferWaitS }: { preferWaitS?: number } = {}): Promise<boolean> {
    const n = ++this.counter;
    const sku = this.skus[n % this.skus.length]!;
    trace.sentAt = performance.now();
    try {
      const res = await this.http.request<{ checkoutId?: string; checkoutSecret?: string; checkout?: StatusView }>('POST', '/api/checkouts', {
        body: { customer: { email: `bench-${this.runId}-${n}@example.com`, name: 'Bench Buyer' }, items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_visa' },
        headers: { 'Idempotency-Key': randomUUID(), ...(preferWaitS ? { Prefer: `wait=${preferWaitS}` } : {}) },
        timeoutMs: this.timeouts.postMs + (preferWaitS ?? 0) * 1000,
      });
      trace.postStatus = res.status;
      trace.postMs = res.ms;
      const retryAfter = res.headers['retry-after'];
      if (retryAfter) trace.retryAfter = String(retryAfter);
      if ((res.status === 202 || res.status === 201) && res.body && typeof res.body === 'object' && res.body.checkoutId) {
        trace.checkoutId = res.body.checkoutId;
        if (res.body.checkoutSecret) trace.checkoutSecret = res.body.checkoutSecret;
        // 201: the answer already holds the decided payment (Prefer: wait), the page's first answer.
        if (res.status === 201) trace.firstAnswerMs = res.ms;
        return true;
      }
      trace.error = `POST answered ${res.status}`;
      return false;
    } catch (err) {
      trace.postStatus = err instanceof HttpTimeoutError ? 'timeout' : 'error';
      trace.postMs = performance.now() - trace.sentAt;
      trace.error = err instanceof Error ? err.message : String(err);
      return false;
    }
  }

  /** A plain GET of the status (no long-poll); its latency goes into the trace. */
  async getStatus(trace: CheckoutTrace): Promise<StatusView | undefined> {
    const res = await this.http.request<StatusView>('GET', `/api/checkouts/${trace.checkoutId!}`, { headers: secretHeader(trace), timeoutMs: this.timeouts.getMs });
    trace.getMs.push(res.ms);
    return res.status === 200 ? res.body : undefined;
  }

  /**
   * Long-polls until the checkout is finished (or `deadline`, a performance.now() time), noting when
   * the payment was first seen decided. Errors back off and retry, as the page does.
   */
  async follow(trace: CheckoutTrace, deadline: number, initial?: StatusView): Promise<void> {
    let view = initial;
    let failures = 0;
    for (;;) {
      if (view) {
        this.note(trace, view);
        if (trace.finalStatus) return;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        trace.error ??= `not finished in time (last status ${view?.status ?? 'unknown'})`;
        return;
      }
      const wait = Math.min(LONG_POLL_MS, Math.max(0, Math.floor(left)));
      const since = view?.version !== undefined ? `&sinceVersion=${view.version}` : '';
      try {
        const res = await this.http.request<StatusView>('GET', `/api/checkouts/${trace.checkoutId!}?waitForChangeMs=${wait}${since}`, {
          headers: secretHeader(trace),
          timeoutMs: wait + this.timeouts.getMs,
        });
        if (res.status === 200) {
          view = res.body;
          failures = 0;
          continue;
        }
        failures++;
      } catch {
        failures++;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** failures, 2_000)));
    }
  }

  /**
   * Follows the checkout's Server-Sent Events (GET /api/checkouts/:id/events) until the stream ends
   * at a finished status, reconnecting with Last-Event-ID as EventSource does when it drops early.
   */
  async followEvents(trace: CheckoutTrace, deadline: number): Promise<void> {
    trace.events = [];
    let lastEventId: string | undefined;
    let failures = 0;
    while (!trace.finalStatus) {
      const left = deadline - performance.now();
      if (left <= 0) {
        trace.error ??= 'not finished in time (event stream)';
        return;
      }
      const headers: Record<string, string> = { ...secretHeader(trace), ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) };
      try {
        await this.http.stream(`/api/checkouts/${trace.checkoutId!}/events`, { headers, timeoutMs: left }, (chunks) => {
          const connectedAt = Date.now();
          const parser = createParser({
            onEvent: (event) => {
              lastEventId = event.id ?? lastEventId;
              const view = JSON.parse(event.data) as StatusView;
              trace.events!.push({ version: Number(event.id), receivedAt: Date.now(), connectedAt });
              this.note(trace, view);
            },
          });
          chunks.on('data', (c: Buffer) => parser.feed(c.toString('utf8')));
        });
        failures = 0;
      } catch (err) {
        if (++failures > 5) {
          trace.error ??= err instanceof Error ? err.message : String(err);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  /** First answer and end, as the page notices them from a status view. */
  private note(trace: CheckoutTrace, view: StatusView): void {
    if (trace.firstAnswerMs === undefined && (PAYMENT_DECIDED.includes(view.payment.status) || FINISHED_STATUSES.includes(view.status))) {
      trace.firstAnswerMs = performance.now() - trace.sentAt;
    }
    if (!trace.finalStatus && FINISHED_STATUSES.includes(view.status)) {
      trace.finishedMs = performance.now() - trace.sentAt;
      trace.finalStatus = view.status;
    }
  }

  /**
   * The page's whole journey. 'long-poll': submit, first render, long-poll to the end, reload.
   * 'events': submit asking for the payment's decision (Prefer: wait=5), then the event stream to the end.
   */
  async purchase(trace: CheckoutTrace, deadline: number, mode: FollowMode = 'long-poll'): Promise<void> {
    if (mode === 'events') {
      if (!(await this.submit(trace, { preferWaitS: 5 }))) return;
      await this.followEvents(trace, deadline);
      return;
    }
    if (!(await this.submit(trace))) return;
    try {
      const first = await this.getStatus(trace);
      await this.follow(trace, deadline, first);
      if (trace.finalStatus) await this.getStatus(trace);
    } catch (err) {
      trace.error ??= err instanceof Error ? err.message : String(err);
    }
  }
}

function secretHeader(trace: CheckoutTrace): Record<string, string> {
  return trace.checkoutSecret ? { 'Checkout-Secret': trace.checkoutSecret } : {};
}
