import type { SagaStep } from '../saga';

/** How the buyer signs in after the checkout: only into an account this checkout created (redirect), else a link by email to its owner. */
export type SignInDelivery = 'redirect' | 'email';

/** Step 3: find or create the customer's account; undone by removing it, only if this checkout created it. */
export const createUser: SagaStep<void, { userId: string; signInDelivery: SignInDelivery }> = {
  name: 'createUser',
  async run(saga) {
    const { input, activities, state } = saga;
    saga.onUndo('deleteUser', async () =>
      (await activities.undo.deleteUser({ checkoutId: input.checkoutId })).deleted ? 'account removed' : 'account kept (not created by this checkout)',
    );
    const user = await activities.steps.createUser({ checkoutId: input.checkoutId, email: input.customer.email, ...(input.customer.name ? { name: input.customer.name } : {}) });
    state.userId = user.userId;
    saga.changed();
    if (user.created) await saga.publish('user.created', { userId: user.userId });
    return { userId: user.userId, signInDelivery: user.created ? 'redirect' : 'email' };
  },
};
