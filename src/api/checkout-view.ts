import type { PaymentAction } from '../application/checkouts/payment-action';
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
 * ids, no compensation errors; the client secret and the 3-D Secure link (asked of Stripe) only
 * while the challenge is open.
 */
export function customerView(state: CheckoutRecord, extras: { signIn?: CheckoutSignIn | undefined; action?: PaymentAction | undefined } = {}): CheckoutStatusView {
  const { signIn, action } = extras;
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
      ...(action && state.status === 'REQUIRES_ACTION' ? { clientSecret: action.clientSecret, ...(action.nextActionUrl ? { nextActionUrl: action.nextActionUrl } : {}) } : {}),
    },
    ...(state.failure ? { failure: { code: state.failure.code, message: state.failure.message } } : {}),
    compensations: state.compensations.map(({ name, status, outcome }) => ({ name, status, ...(outcome ? { outcome } : {}) })),
    updatedAt: state.updatedAt,
    ...(state.version !== undefined ? { version: state.version } : {}),
    ...(signIn ? { sso: signIn } : {}),
  };
}
