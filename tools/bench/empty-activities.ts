import { ApplicationFailure } from '@temporalio/activity';
import type { Activities } from '../../src/activities';

/**
 * The "empty saga": every activity CheckoutWorkflow calls, with the same name and a plausible
 * result of the same shape, but no I/O. Run by the same workflow code (same bundle) and the same
 * worker options, it measures what Temporal and the worker cost on their own, which is the ceiling
 * real checkouts are compared with.
 *
 * Typed as `Activities`: an activity added, renamed or reshaped in src/activities fails the type
 * check here, so the ceiling cannot silently drift from the real saga.
 */
export function createEmptyActivities(): Activities {
  return { ...checkoutSagaStubs, ...refundStubs };
}

type CheckoutSagaActivity =
  | 'reserveStock'
  | 'releaseStock'
  | 'createPaymentIntent'
  | 'confirmPayment'
  | 'capturePayment'
  | 'getPaymentStatus'
  | 'reconcilePayment'
  | 'verifyPayment'
  | 'refundPayment'
  | 'createUser'
  | 'deleteUser'
  | 'issueSsoToken'
  | 'revokeSsoToken'
  | 'confirmOrder'
  | 'recordCheckoutOutcome'
  | 'recordCheckoutStatus'
  | 'publishEvent';

const BENCH_UNIT_PRICE = 1250;

const checkoutSagaStubs: Pick<Activities, CheckoutSagaActivity> = {
  async reserveStock(input) {
    // Payload sizes matter to Temporal (history, task payloads): a result shaped like the real one.
    const lines = input.items.map(({ sku, quantity }) => ({
      sku,
      name: `Bench product ${sku}`,
      quantity,
      unitPrice: BENCH_UNIT_PRICE,
      lineTotal: BENCH_UNIT_PRICE * quantity,
    }));
    return { amount: lines.reduce((sum, l) => sum + l.lineTotal, 0), currency: 'EUR', lines };
  },
  async releaseStock() {
    return { released: false, lines: [] };
  },
  async createPaymentIntent(input) {
    const id = `pi_bench_${input.checkoutId.replace(/-/g, '')}`;
    return { paymentIntentId: id, captureMethod: input.captureMethod ?? 'automatic' };
  },
  async confirmPayment() {
    return { status: 'succeeded' };
  },
  async capturePayment(input) {
    return { amountReceived: input.amount };
  },
  async getPaymentStatus() {
    return 'succeeded';
  },
  async reconcilePayment() {
    return { status: 'succeeded' };
  },
  async verifyPayment(input) {
    return { amountReceived: input.amount };
  },
  async refundPayment() {
    return { action: 'none' };
  },
  async createUser(input) {
    return { userId: input.checkoutId, created: true };
  },
  async deleteUser() {
    return { deleted: false };
  },
  async issueSsoToken(input) {
    return { tokenId: input.checkoutId, expiresAt: new Date(Date.now() + 300_000).toISOString(), delivery: input.delivery ?? 'redirect' };
  },
  async revokeSsoToken() {
    return { revoked: false };
  },
  async confirmOrder() {
    return { confirmedAt: new Date().toISOString() };
  },
  async recordCheckoutOutcome() {
    return { recordedAt: new Date().toISOString() };
  },
  async recordCheckoutStatus() {},
  async publishEvent() {},
};

/** The refund workflows never run in the bench; reaching one is a bug in the bench, so it fails loudly. */
const notInTheEmptySaga = (name: string) => async (): Promise<never> => {
  throw ApplicationFailure.nonRetryable(`${name} is not part of the bench's empty saga`, 'BENCH_UNEXPECTED_ACTIVITY');
};

const refundStubs: Omit<Activities, CheckoutSagaActivity> = {
  claimRefund: notInTheEmptySaga('claimRefund'),
  releaseRefundClaim: notInTheEmptySaga('releaseRefundClaim'),
  recordRefund: notInTheEmptySaga('recordRefund'),
  createStripeRefund: notInTheEmptySaga('createStripeRefund'),
  findUnrecordedRefunds: notInTheEmptySaga('findUnrecordedRefunds'),
  returnRefundedStock: notInTheEmptySaga('returnRefundedStock'),
  readDispute: notInTheEmptySaga('readDispute'),
  recordDispute: notInTheEmptySaga('recordDispute'),
};
