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

/** Money moved for one checkout, as Stripe sees it (minor units). */
export interface CheckoutMoney {
  /** Taken from the buyer: `amount_received` of every intent (captured, at once or later). */
  captured: number;
  /** Given back by refunds of captured money. */
  refunded: number;
  /** Authorizations given back without ever being captured (void, expiry, the rest of a partial capture): no money moved. */
  released: number;
  /** Still held on the buyer's card, waiting for a capture (`amount_capturable`). */
  authorized: number;
  /** Taken back by the buyer's bank through disputes that were lost. */
  chargedBack: number;
  /** Intents that took money. */
  charges: number;
  intents: Stripe.PaymentIntent[];
}

/**
 * What a test needs from the Stripe emulator: the real SDK for what Stripe itself would tell us
 * (intents by checkout, refunds, disputes), and the emulator's test endpoints for faults, 3-D Secure,
 * expiring authorizations and disputes (tools/stripe-emulator/README.md, "Test endpoints").
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

  async disputesFor(paymentIntentId: string): Promise<Stripe.Dispute[]> {
    return (await this.stripe.disputes.list({ payment_intent: paymentIntentId, limit: 100 })).data;
  }

  /** Money moved for one checkout, as Stripe sees it. */
  async moneyFor(checkoutId: string): Promise<CheckoutMoney> {
    const intents = await this.intentsFor(checkoutId);
    const money: CheckoutMoney = { captured: 0, refunded: 0, released: 0, authorized: 0, chargedBack: 0, charges: 0, intents };
    for (const intent of intents) {
      if (intent.amount_received > 0) money.charges += 1;
      money.captured += intent.amount_received;
      money.authorized += intent.amount_capturable;
      for (const refund of await this.refundsFor(intent.id)) {
        // Stripe records the release of an uncaptured authorization as a refund without a balance transaction.
        if (refund.balance_transaction === null) money.released += refund.amount;
        else money.refunded += refund.amount;
      }
      for (const dispute of await this.disputesFor(intent.id)) {
        if (dispute.status === 'lost') money.chargedBack += dispute.amount;
      }
    }
    return money;
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

  /** Ends an authorization now as Stripe does when its validity runs out: intent canceled (`automatic`), hold released. */
  async expireAuthorization(paymentIntentId: string): Promise<Stripe.PaymentIntent> {
    return (await this.post<{ payment_intent: Stripe.PaymentIntent }>(`/_emulator/payment_intents/${paymentIntentId}/expire-authorization`, {})).payment_intent;
  }

  /** Moves the emulator's clock: keys older than a day are forgotten, authorizations past their validity expire. Shared by every test on this emulator. */
  async advanceClock(seconds: number): Promise<void> {
    await this.post('/_emulator/clock/advance', { seconds });
  }

  /** The buyer's bank disputes a captured charge (a `pi_` id names its latest charge): by default all of it not refunded. */
  async openDispute(chargeOrPaymentIntentId: string, options: { reason?: string; amount?: number } = {}): Promise<Stripe.Dispute> {
    return (await this.post<{ dispute: Stripe.Dispute }>(`/_emulator/charges/${chargeOrPaymentIntentId}/dispute`, options)).dispute;
  }

  /** The merchant's evidence reaches the bank: the dispute goes `under_review` (`charge.dispute.updated`). */
  async submitDisputeEvidence(disputeId: string): Promise<Stripe.Dispute> {
    return (await this.post<{ dispute: Stripe.Dispute }>(`/_emulator/disputes/${disputeId}/evidence`, {})).dispute;
  }

  /** The bank decides: `won` gives the money back to the merchant, `lost` leaves it with the buyer (`charge.dispute.closed`). */
  async closeDispute(disputeId: string, outcome: 'won' | 'lost'): Promise<Stripe.Dispute> {
    return (await this.post<{ dispute: Stripe.Dispute }>(`/_emulator/disputes/${disputeId}/close`, { outcome })).dispute;
  }

  /** The emulator's request log for one checkout's intents: lets a test count confirm calls and replays. */
  async requests(): Promise<{ method: string; path: string; idempotencyKey: string | null; status: number; replayed: boolean }[]> {
    const res = await fetch(`${this.baseUrl}/_emulator/state`);
    const body = (await res.json()) as { requests: { method: string; path: string; idempotencyKey: string | null; status: number; replayed: boolean }[] };
    return body.requests;
  }

  private async post<T = unknown>(path: string, body: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  }
}
