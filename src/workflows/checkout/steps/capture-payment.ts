import { ApplicationFailure, sleep } from '@temporalio/workflow';
import type { ReservedCart } from '../../../activities/checkout/stock';
import { awaitPaymentOutcome, DEFAULT_RECONCILE_INTERVAL_MS, DEFAULT_SETTLEMENT_HORIZON_MS, followPayment, MAX_RECONCILE_INTERVAL_MS } from '../payment-follow-up';
import type { CheckoutSaga, SagaStep } from '../saga';

/**
 * Step 2: the payment. The intent is created first (no money moves), so its undo is registered
 * with its id BEFORE the confirm, the one call that can charge: a confirm that timed out may still
 * have charged the card. A payment that does not succeed at once is followed until Stripe says how
 * it ended (payment-follow-up.ts). With deferred capture the confirm only authorizes the card (the
 * money moves at confirmOrder), and the undo voids the authorization instead of refunding a charge.
 */
export const capturePayment: SagaStep<{ cart: ReservedCart }, { paymentIntentId: string; authorized: boolean }> = {
  name: 'capturePayment',
  async run(saga, { cart }) {
    const { input, activities, state } = saga;
    const deferred = saga.shape >= 4 && input.captureMode === 'deferred';
    const intent = await activities.stripe.createPaymentIntent({
      checkoutId: input.checkoutId,
      orderId: input.orderId,
      amount: cart.amount,
      currency: cart.currency,
      paymentMethodId: input.paymentMethodId,
      ...(deferred ? { captureMethod: 'manual' as const } : {}),
    });
    state.payment = {
      status: 'requires_confirmation',
      paymentIntentId: intent.paymentIntentId,
      // Shape 3 histories recorded no capture method: their intents are all automatic.
      ...(intent.captureMethod ? { captureMethod: intent.captureMethod } : {}),
    };
    saga.onUndo('refundPayment', () => undoPayment(saga, intent.paymentIntentId, cart.amount));
    saga.checkpoint();
    const attempt = await activities.stripe.confirmPayment({ checkoutId: input.checkoutId, paymentIntentId: intent.paymentIntentId });
    if (saga.shape >= 3) await followPayment(saga, intent.paymentIntentId, attempt);
    else await awaitPaymentOutcome(saga, intent.paymentIntentId, attempt);
    const authorized = state.payment.status === 'authorized';
    await saga.publish(authorized ? 'payment.authorized' : 'payment.captured', { amount: cart.amount, currency: cart.currency, paymentIntentId: intent.paymentIntentId });
    return { paymentIntentId: intent.paymentIntentId, authorized };
  },
};

/**
 * The payment's undo: refunds a succeeded payment, voids one never completed. A payment still
 * processing at Stripe can be neither yet: it is followed (Stripe asked again, waits doubling) until
 * it settles, up to the settlement horizon; past that the undo fails and the checkout needs an operator.
 */
async function undoPayment(saga: CheckoutSaga, paymentIntentId: string, orderAmount: number): Promise<string> {
  const { input, state } = saga;
  const giveUpAt = (saga.paymentFollowedSince ?? Date.now()) + (input.paymentSettlementHorizonMs ?? DEFAULT_SETTLEMENT_HORIZON_MS);
  for (let wait = input.paymentReconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS; ; wait = Math.min(wait * 2, MAX_RECONCILE_INTERVAL_MS)) {
    const result = await saga.activities.undo.refundPayment({ checkoutId: input.checkoutId, paymentIntentId });
    if (result.action === 'refunded') {
      state.payment.status = 'refunded';
      await saga.publish('payment.refunded', {
        paymentIntentId,
        refundId: result.refundId!,
        amount: result.amount!,
        currency: result.currency!,
        totalRefunded: result.amount!,
        orderAmount,
        reason: 'checkout undone',
      });
      return `refunded ${result.amount} ${result.currency}`;
    }
    if (result.action === 'voided') {
      state.payment.status = 'canceled';
      await saga.publish('payment.voided', { paymentIntentId });
      return 'payment intent cancelled before capture';
    }
    if (result.action !== 'pending') return 'nothing was charged';
    if (Date.now() >= giveUpAt) {
      throw ApplicationFailure.nonRetryable('The payment is still processing at Stripe: it can be neither cancelled nor refunded until it settles');
    }
    state.payment.status = 'processing';
    saga.changed();
    await sleep(Math.min(wait, giveUpAt - Date.now()));
  }
}
