import { unixNow } from './ids';

/**
 * The payment methods the emulator knows, under the ids Stripe's test mode gives them, so the same
 * checkout request works here and against Stripe test mode. `pm_card_processing` is the one id of our
 * own: a card that stays `processing` until `POST /_emulator/payment_intents/:id/settle`, standing in for
 * the asynchronous methods (bank debits, vouchers) the saga must also handle.
 */
export type ConfirmBehaviour =
  | { kind: 'succeed' }
  | { kind: 'decline'; code: string; declineCode: string; message: string }
  | { kind: 'authenticate' }
  | { kind: 'processing' };

export interface TestPaymentMethod {
  id: string;
  brand: 'visa' | 'mastercard';
  last4: string;
  behaviour: ConfirmBehaviour;
}

const GENERIC_DECLINE = { kind: 'decline', code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' } as const;

const TEST_PAYMENT_METHODS: readonly TestPaymentMethod[] = [
  { id: 'pm_card_visa', brand: 'visa', last4: '4242', behaviour: { kind: 'succeed' } },
  { id: 'pm_card_mastercard', brand: 'mastercard', last4: '4444', behaviour: { kind: 'succeed' } },
  { id: 'pm_card_chargeDeclined', brand: 'visa', last4: '0002', behaviour: GENERIC_DECLINE },
  {
    id: 'pm_card_chargeDeclinedInsufficientFunds',
    brand: 'visa',
    last4: '9995',
    behaviour: { kind: 'decline', code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  },
  {
    id: 'pm_card_chargeDeclinedExpiredCard',
    brand: 'visa',
    last4: '0069',
    behaviour: { kind: 'decline', code: 'expired_card', declineCode: 'expired_card', message: 'Your card has expired.' },
  },
  { id: 'pm_card_authenticationRequired', brand: 'visa', last4: '3184', behaviour: { kind: 'authenticate' } },
  { id: 'pm_card_processing', brand: 'visa', last4: '1881', behaviour: { kind: 'processing' } },
];

export function findTestPaymentMethod(id: string): TestPaymentMethod | undefined {
  return TEST_PAYMENT_METHODS.find((pm) => pm.id === id);
}

/** The `payment_method` object Stripe embeds in card errors and `last_payment_error`. */
export function paymentMethodObject(pm: TestPaymentMethod) {
  return {
    id: pm.id,
    object: 'payment_method' as const,
    allow_redisplay: 'unspecified',
    billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
    card: {
      brand: pm.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'unchecked' },
      country: 'US',
      display_brand: pm.brand,
      exp_month: 12,
      exp_year: new Date().getUTCFullYear() + 3,
      funding: 'credit',
      generated_from: null,
      last4: pm.last4,
      networks: { available: [pm.brand], preferred: null },
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: unixNow(),
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: 'card' as const,
  };
}

export type PaymentMethodObject = ReturnType<typeof paymentMethodObject>;
