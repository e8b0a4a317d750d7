import { upsertSearchAttributes } from '@temporalio/workflow';
import type { ReservedCart } from '../../../activities/checkout/stock';
import { searchAttributes } from '../contract';
import type { SagaStep } from '../saga';

/** Step 1: price the cart from the catalog and reserve every line; undone by putting it back on sale. */
export const reserveStock: SagaStep<void, ReservedCart> = {
  name: 'reserveStock',
  async run(saga) {
    const { input, activities } = saga;
    saga.onUndo('releaseStock', async () => {
      const released = await activities.undo.releaseStock({ checkoutId: input.checkoutId });
      if (!released.released) return 'nothing reserved';
      await saga.publish('stock.released', { lines: released.lines });
      return `released ${released.lines.map((l) => `${l.quantity} x ${l.sku}`).join(', ')}`;
    });
    const cart = await activities.steps.reserveStock({
      checkoutId: input.checkoutId,
      orderId: input.orderId,
      workflowId: saga.workflowId,
      customer: input.customer,
      items: input.items,
    });
    saga.state.amount = cart.amount;
    saga.state.currency = cart.currency;
    upsertSearchAttributes([{ key: searchAttributes.orderTotal, value: cart.amount }]);
    saga.changed();
    await saga.publish('stock.reserved', { amount: cart.amount, currency: cart.currency, lines: cart.lines });
    return cart;
  },
};
