import Stripe from 'stripe';
import { createStripeClient } from '../../src/stripe/client';

/** A fault for `POST /_emulator/faults`; tools/stripe-emulator/README.md ("Faults") says what each does. */
export interface Fault {
  status?: 429 | 500 | 502 | 503;
  code?: 'rate_limit' | 'lock_timeout';
  count?: number;
  latencyMs?: number;
  latencyCount?: number;
  match?: string;
  afterExecute?: boolean;
  rolledBack?: boolean;
}

/**
 * What a test needs from the Stripe emulator: the real SDK for what Stripe itself would tell us
 * (intents by checkout, refunds), and the emulator's test endpoints for faults and 3-D Secure.
 */
export class EmulatorClient {
  readonly stripe: Stripe;

  constructor(
    private readonly baseUrl: string,
    secretKey: string,
  ) {
    this.stripe = createStripeClient({ STRIPE_SECRET_KEY: secretKey, STRIPE_API_URL: baseUrl });
  }

  async intentsFor(checkoutId: string): Promise<Stripe.PaymentIntent[]> {
    const found = await this.stripe.paymentIntents.search({ query: `metadata['checkoutId']:'${checkoutId}'` });
    return found.data;
  }

  async refundsFor(paymentIntentId: string): Promise<Stripe.Refund[]> {
    return (await this.stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 })).data;
  }

  /** Money moved for one checkout, as Stripe sees it. */
  async moneyFor(checkoutId: string): Promise<{ captured: number; refunded: number; charges: number; intents: Stripe.PaymentIntent[] }> {
    const intents = await this.intentsFor(checkoutId);
    let captured = 0;
    let refunded = 0;
    let charges = 0;
    for (const intent of intents) {
      if (intent.amount_received > 0) charges += 1;
      captured += intent.amount_received;
      for (const refund of await this.refundsFor(intent.id)) refunded += refund.amount;
    }
    return { captured, refunded, charges, intents };
  }

  async injectFault(fault: Fault): Promise<void> {
    await this.post('/_emulator/faults', fault);
  }

  async clearFaults(): Promise<void> {
    const res = await fetch(`${this.baseUrl}/_emulator/faults`, { method: 'DELETE' });
    if (!res.ok) throw new Error(`clearing faults failed: ${res.status}`);
  }

  async authenticate(paymentIntentId: string, outcome: 'succeed' | 'fail'): Promise<void> {
    await this.post(`/_emulator/payment_intents/${paymentIntentId}/authenticate`, { outcome });
  }

  async settle(paymentIntentId: string, outcome: 'succeed' | 'fail'): Promise<void> {
    await this.post(`/_emulator/payment_intents/${paymentIntentId}/settle`, { outcome });
  }

  /** The emulator's request log for one checkout's intents: lets a test count confirm calls and replays. */
  async requests(): Promise<{ method: string; path: string; idempotencyKey: string | null; status: number; replayed: boolean }[]> {
    const res = await fetch(`${this.baseUrl}/_emulator/state`);
    const body = (await res.json()) as { requests: { method: string; path: string; idempotencyKey: string | null; status: number; replayed: boolean }[] };
    return body.requests;
  }

  private async post(path: string, body: unknown): Promise<void> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
  }
}
