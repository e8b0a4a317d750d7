import { log, upsertSearchAttributes } from '@temporalio/workflow';
import { searchAttributes, type CheckoutInput, type CheckoutResult } from './contract';
import { CheckoutSaga } from './saga';
import { capturePayment } from './steps/capture-payment';
import { confirmOrder, type ConfirmedOrder } from './steps/confirm-order';
import { createUser } from './steps/create-user';
import { issueSsoToken } from './steps/issue-sso-token';
import { reserveStock } from './steps/reserve-stock';

export { LOCAL_SHORT_STEPS_PATCH, STATUS_FEED_PATCH, STEPS_AS_ACTIVITIES_PATCH } from './shapes';

/**
 * Reserve stock -> capture payment -> create user -> issue SSO token -> confirm order. Each step
 * (steps/) registers its undo before it can leave anything behind; a business failure, an
 * infrastructure failure that outlived its retries, or a cancel undoes everything done, newest first.
 * Once the order is confirmed nothing undoes it: its event is retried until Kafka takes it.
 */
export async function CheckoutWorkflow(input: CheckoutInput): Promise<CheckoutResult> {
  const saga = new CheckoutSaga(input);
  upsertSearchAttributes([{ key: searchAttributes.customerEmail, value: input.customerEmailHash ?? input.customer.email }]);
  saga.setStatus('PROCESSING');

  let order: ConfirmedOrder;
  try {
    order = await saga.forward(async () => {
      await saga.publish('checkout.started', { items: input.items });
      saga.checkpoint();
      const cart = await saga.step(reserveStock, undefined);
      const payment = await saga.step(capturePayment, { cart });
      const user = await saga.step(createUser, undefined);
      await saga.step(issueSsoToken, user);
      return saga.step(confirmOrder, { cart, ...payment, ...user }, { last: true });
    });
  } catch (err) {
    return saga.undo(err);
  }
  await saga.publishUntilDelivered(order.event, order.confirmedAt);
  log.info('checkout completed', { checkoutId: input.checkoutId, orderId: input.orderId });
  return { status: 'COMPLETED', orderId: input.orderId };
}
