import type Stripe from 'stripe';
import { ServiceUnavailableError } from '../errors';
import type { CheckoutRecord } from './status';

/** Stripe answers in well under a second; the page asks again shortly after a 503. */
const STRIPE_RETRY_AFTER_SECONDS = 2;

/** What the buyer needs to pass a 3-D Secure challenge: Stripe.js takes the secret, the page's frame the link. */
export interface PaymentAction {
  clientSecret: string;
  nextActionUrl?: string;
}

/**
 * The open challenge of a checkout, asked of Stripe. The client secret (and the challenge link,
 * whose URL carries it) never enters the workflow's history, the change feed or any table: only the
 * buyer's own status answer holds it, and only while the checkout waits on the challenge. Answers
 * are kept per payment intent and checkout version, so a page polling a challenge costs Stripe one
 * request per change, not one per poll.
 */
export interface PaymentActions {
  of(state: CheckoutRecord): Promise<PaymentAction | undefined>;
}

/** Challenges remembered at once; the oldest is asked of Stripe again first. */
const MAX_REMEMBERED = 5_000;

export function createPaymentActions(stripe: Stripe, opts: { timeoutMs: number }): PaymentActions {
  const remembered = new Map<string, PaymentAction>();
  return {
    async of(state) {
      const paymentIntentId = state.payment.paymentIntentId;
      if (state.status !== 'REQUIRES_ACTION' || !paymentIntentId) return undefined;
      const key = `${paymentIntentId}:${state.version ?? state.updatedAt}`;
      const known = remembered.get(key);
      if (known) return known;
      let intent: Stripe.PaymentIntent;
      try {
        intent = await stripe.paymentIntents.retrieve(paymentIntentId, {}, { timeout: opts.timeoutMs });
      } catch (err) {
        throw new ServiceUnavailableError('stripe', STRIPE_RETRY_AFTER_SECONDS, { cause: err });
      }
      if (!intent.client_secret) return undefined;
      const url = intent.next_action?.redirect_to_url?.url;
      const action: PaymentAction = { clientSecret: intent.client_secret, ...(url ? { nextActionUrl: url } : {}) };
      remembered.set(key, action);
      if (remembered.size > MAX_REMEMBERED) remembered.delete(remembered.keys().next().value!);
      return action;
    },
  };
}
