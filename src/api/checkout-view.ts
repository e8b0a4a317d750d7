import type { CheckoutRecord } from '../application/checkouts/status';
import type { CheckoutSignIn } from '../application/sign-in/checkout-sign-in';
import type { CompensationState, PaymentStatus } from '../workflows/checkout/contract';

/** `GET /api/checkouts/:id` as DESIGN.md shapes it: what the buyer may see of a checkout. */
export interface CheckoutStatusView {
  checkoutId: string;
  status: CheckoutRecord['status'];
  step: string | null;
  orderId: string;
  amount: number | null;
  currency: string | null;
  payment: { status: PaymentStatus; clientSecret?: string; nextActionUrl?: string };
  failure?: { code: string; message: string };
  sso?: CheckoutSignIn;
  /** What the undo did; technical errors stay in the workflow history, not in a customer's browser. */
  compensations: Omit<CompensationState, 'error'>[];
  updatedAt: string;
  /** Present when the workflow answered; a long-poll may pass it back as `sinceVersion`. */
  version?: number;
}

/**
 * The buyer's view of a checkout's whole state: no email, no payment intent, no account or token
 * ids, no compensation errors; the 3-D Secure link only while the challenge is open.
 */
export function customerView(state: CheckoutRecord, signIn: CheckoutSignIn | undefined): CheckoutStatusView {
  const { payment } = state;
  return {
    checkoutId: state.checkoutId,
    status: state.status,
    step: state.step,
    orderId: state.orderId,
    amount: state.amount,
    currency: state.currency,
    payment: {
      status: payment.status,
      ...(payment.clientSecret ? { clientSecret: payment.clientSecret } : {}),
      ...(payment.nextActionUrl && state.status === 'REQUIRES_ACTION' ? { nextActionUrl: payment.nextActionUrl } : {}),
    },
    ...(state.failure ? { failure: { code: state.failure.code, message: state.failure.message } } : {}),
    compensations: state.compensations.map(({ name, status, outcome }) => ({ name, status, ...(outcome ? { outcome } : {}) })),
    updatedAt: state.updatedAt,
    ...(state.version !== undefined ? { version: state.version } : {}),
    ...(signIn ? { sso: signIn } : {}),
  };
}
