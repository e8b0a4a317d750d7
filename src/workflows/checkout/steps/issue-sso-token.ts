import type { SagaStep } from '../saga';
import type { SignInDelivery } from './create-user';

/** Step 4: the single-use sign-in token (only its hash is stored, never in history); undone by revoking it. */
export const issueSsoToken: SagaStep<{ userId: string; signInDelivery: SignInDelivery }, void> = {
  name: 'issueSsoToken',
  async run(saga, { userId, signInDelivery }) {
    const { input, activities, state } = saga;
    saga.onUndo('revokeSsoToken', async () =>
      (await activities.undo.revokeSsoToken({ checkoutId: input.checkoutId })).revoked ? 'login token revoked' : 'no token to revoke',
    );
    state.sso = await activities.steps.issueSsoToken({ checkoutId: input.checkoutId, userId, delivery: signInDelivery });
    saga.changed();
  },
};
