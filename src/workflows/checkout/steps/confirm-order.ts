import type { ReservedCart } from '../../../activities/checkout/stock';
import type { OutcomeEvent } from '../../../events/contract';
import type { SagaStep } from '../saga';
import type { SignInDelivery } from './create-user';

export interface ConfirmedOrder {
  /** `order.confirmed`, built before the order is recorded so the order keeps the event's sequence. */
  event: OutcomeEvent<'order.confirmed'>;
  /** When PostgreSQL recorded the confirmation first (shapes 1 and 2: unknown). */
  confirmedAt?: string;
}

/**
 * Step 5, the point of no return: once it starts a cancel is refused and only a refund can undo the
 * order, so it registers no undo (a capture or a verification that fails still undoes the earlier
 * steps). A signal or a webhook never confirms an order on its own: from shape 3 Stripe must say it
 * holds this checkout's money first (verifyPayment).
 */
export const confirmOrder: SagaStep<
  { cart: ReservedCart; paymentIntentId: string; authorized: boolean; userId: string; signInDelivery: SignInDelivery },
  ConfirmedOrder
> = {
  name: 'confirmOrder',
  async run(saga, { cart, paymentIntentId, authorized, userId, signInDelivery }) {
    const { input, activities, state } = saga;
    if (authorized) {
      // Deferred capture: the money moves only now, for exactly the authorized total. A capture that
      // fails (authorization expired, refused at capture) fails the checkout and releases everything.
      await activities.stripe.capturePayment({ checkoutId: input.checkoutId, paymentIntentId, amount: cart.amount });
      state.payment.status = 'succeeded';
      saga.changed();
      await saga.publish('payment.captured', { amount: cart.amount, currency: cart.currency, paymentIntentId });
    }
    if (saga.shape >= 3) await activities.stripe.verifyPayment({ checkoutId: input.checkoutId, paymentIntentId, amount: cart.amount, currency: cart.currency });
    const event = saga.event('order.confirmed', {
      amount: cart.amount,
      currency: cart.currency,
      lines: cart.lines,
      userId,
      signInDelivery,
      ...(input.customer.name ? { customerName: input.customer.name } : {}),
    });
    const recorded = await activities.steps.confirmOrder({
      checkoutId: input.checkoutId,
      orderId: input.orderId,
      paymentIntentId,
      amount: cart.amount,
      currency: cart.currency,
      eventSequence: event.data.sequence,
    });
    saga.setStatus('COMPLETED');
    return { event, ...(recorded ? { confirmedAt: recorded.confirmedAt } : {}) };
  },
};
