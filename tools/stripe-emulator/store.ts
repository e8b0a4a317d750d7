import type { TestPaymentMethod } from './payment-methods';

/**
 * The emulator's in-memory account: the Stripe-shaped objects it has created, exactly as it renders
 * them, plus what the API does not show (an intent's return_url, when it became searchable). Lost on
 * restart, like a fresh test-mode account.
 */

export type Metadata = Record<string, string>;

export type PaymentIntentStatus =
  | 'requires_payment_method'
  | 'requires_confirmation'
  | 'requires_action'
  | 'processing'
  | 'requires_capture'
  | 'succeeded'
  | 'canceled';

/** The caller's reasons, and `automatic`: Stripe's own, when it cancels an authorization that was never captured. */
export type CancellationReason = 'duplicate' | 'fraudulent' | 'requested_by_customer' | 'abandoned' | 'automatic';

export type CaptureMethod = 'automatic' | 'automatic_async' | 'manual';

export interface LastPaymentError {
  type: 'card_error' | 'invalid_request_error';
  code: string;
  decline_code?: string;
  doc_url: string;
  message: string;
  charge?: string;
  payment_method: unknown;
}

export interface NextAction {
  type: 'redirect_to_url';
  redirect_to_url: { url: string; return_url: string | null };
}

export interface PaymentIntentObject {
  id: string;
  object: 'payment_intent';
  allowed_payment_method_types: string[] | null;
  amount: number;
  amount_capturable: number;
  amount_details: { tip: Record<string, never> };
  amount_received: number;
  application: null;
  application_fee_amount: null;
  automatic_payment_methods: { allow_redirects: 'always' | 'never'; enabled: boolean } | null;
  canceled_at: number | null;
  cancellation_reason: CancellationReason | null;
  capture_method: CaptureMethod;
  client_secret: string;
  confirmation_method: 'automatic';
  created: number;
  currency: string;
  customer: null;
  customer_account: null;
  description: string | null;
  excluded_payment_method_types: null;
  last_payment_error: LastPaymentError | null;
  latest_charge: string | null;
  livemode: false;
  managed_payments: null;
  metadata: Metadata;
  next_action: NextAction | null;
  on_behalf_of: null;
  payment_method: string | null;
  payment_method_configuration_details: null;
  payment_method_options: { card: { installments: null; mandate_options: null; network: null; request_three_d_secure: 'automatic' } };
  payment_method_types: string[];
  payment_record: null;
  processing: null;
  receipt_email: string | null;
  review: null;
  setup_future_usage: null;
  shipping: null;
  source: null;
  statement_descriptor: null;
  statement_descriptor_suffix: null;
  status: PaymentIntentStatus;
  transfer_data: null;
  transfer_group: null;
}

export type ChargeStatus = 'succeeded' | 'pending' | 'failed';

export interface ChargeObject {
  id: string;
  object: 'charge';
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  application: null;
  application_fee: null;
  application_fee_amount: null;
  balance_transaction: string | null;
  billing_details: { address: null; email: null; name: null; phone: null; tax_id: null };
  calculated_statement_descriptor: string;
  captured: boolean;
  created: number;
  currency: string;
  customer: null;
  description: string | null;
  disputed: boolean;
  failure_balance_transaction: null;
  failure_code: string | null;
  failure_message: string | null;
  fraud_details: Record<string, never>;
  livemode: false;
  metadata: Metadata;
  on_behalf_of: null;
  outcome: {
    network_status: 'approved_by_network' | 'declined_by_network';
    reason: string | null;
    risk_level: 'normal';
    seller_message: string;
    type: 'authorized' | 'issuer_declined';
  } | null;
  paid: boolean;
  payment_intent: string;
  payment_method: string;
  payment_method_details: {
    card: {
      brand: string;
      /** With manual capture: when the authorization expires and the charge is refunded if still uncaptured. */
      capture_before?: number;
      country: 'US';
      exp_month: number;
      exp_year: number;
      funding: 'credit';
      last4: string;
      network: string;
    };
    type: 'card';
  };
  receipt_email: string | null;
  receipt_number: null;
  receipt_url: string | null;
  refunded: boolean;
  review: null;
  shipping: null;
  source: null;
  source_transfer: null;
  statement_descriptor: null;
  statement_descriptor_suffix: null;
  status: ChargeStatus;
  transfer_data: null;
  transfer_group: null;
}

export type RefundReason = 'duplicate' | 'fraudulent' | 'requested_by_customer';

export interface RefundObject {
  id: string;
  object: 'refund';
  amount: number;
  /** Null for the release of an authorization that was never captured: no money moved. */
  balance_transaction: string | null;
  charge: string;
  created: number;
  currency: string;
  customer: null;
  customer_account: null;
  destination_details: { card: { reference_status: 'pending'; reference_type: 'acquirer_reference_number'; type: 'refund' }; type: 'card' };
  metadata: Metadata;
  payment_intent: string;
  payment_method: string;
  /** `expired_uncaptured_charge` is Stripe's own, for an authorization released because it expired. */
  reason: RefundReason | 'expired_uncaptured_charge' | null;
  receipt_number: null;
  source_transfer_reversal: null;
  status: 'succeeded';
  transfer_reversal: null;
}

/** What a dispute did to the account's balance: the withdrawal when it opened, the reinstatement when it was won. */
export interface BalanceTransactionObject {
  id: string;
  object: 'balance_transaction';
  amount: number;
  available_on: number;
  created: number;
  currency: string;
  description: string;
  exchange_rate: null;
  fee: number;
  fee_details: Array<{ amount: number; application: null; currency: string; description: string; type: 'stripe_fee' }>;
  net: number;
  reporting_category: 'dispute' | 'dispute_reversal';
  source: string;
  status: 'pending';
  type: 'adjustment';
}

/** Open (`needs_response`, `under_review`: evidence submitted) or closed (`won`, `lost`). */
export type DisputeStatus = 'needs_response' | 'under_review' | 'won' | 'lost';

export interface DisputeObject {
  id: string;
  object: 'dispute';
  amount: number;
  balance_transactions: BalanceTransactionObject[];
  charge: string;
  created: number;
  currency: string;
  enhanced_eligibility_types: never[];
  evidence: Record<string, null>;
  evidence_details: { due_by: number; enhanced_eligibility: Record<string, never>; has_evidence: boolean; past_due: false; submission_count: number };
  is_charge_refundable: false;
  livemode: false;
  metadata: Metadata;
  payment_intent: string;
  payment_method_details: { card: { brand: string; case_type: 'chargeback'; network_reason_code: null }; type: 'card' };
  reason: string;
  status: DisputeStatus;
}

export interface IntentRecord {
  object: PaymentIntentObject;
  /** Where the 3-D Secure page sends the customer back; the API only shows it inside next_action. */
  returnUrl: string | null;
  /** The test card behind `object.payment_method`, once one is attached. */
  paymentMethod: TestPaymentMethod | null;
  /** On the emulator's clock (see clock.ts), which search's index lag is measured with. */
  createdAtMs: number;
}

/** One line per `/v1` request, so a test or an operator can count calls and see retries and replays. */
export interface RequestLogEntry {
  at: string;
  requestId: string;
  method: string;
  path: string;
  idempotencyKey: string | null;
  status: number;
  replayed: boolean;
  fault: 'before_execute' | 'after_execute' | 'rolled_back' | null;
  latencyMs: number | null;
  paymentIntent: string | null;
  metadata: Metadata | null;
  durationMs: number;
}

/** Enough history for any test or debugging session, without growing forever in a long `npm start`. */
const MAX_LOGGED_REQUESTS = 10_000;

export class EmulatorStore {
  readonly intents = new Map<string, IntentRecord>();
  readonly charges = new Map<string, ChargeObject>();
  readonly refunds = new Map<string, RefundObject>();
  readonly disputes = new Map<string, DisputeObject>();
  /** Intents holding an authorization (`requires_capture`): the ones that can expire. */
  readonly authorizations = new Set<string>();
  readonly requests: RequestLogEntry[] = [];

  logRequest(entry: RequestLogEntry): void {
    this.requests.push(entry);
    if (this.requests.length > MAX_LOGGED_REQUESTS) this.requests.splice(0, this.requests.length - MAX_LOGGED_REQUESTS);
  }

  intent(id: string): IntentRecord | undefined {
    return this.intents.get(id);
  }

  chargesOf(paymentIntentId: string): ChargeObject[] {
    return [...this.charges.values()].filter((c) => c.payment_intent === paymentIntentId);
  }

  refundsOf(paymentIntentId: string): RefundObject[] {
    return [...this.refunds.values()].filter((r) => r.payment_intent === paymentIntentId);
  }

  disputesOf(paymentIntentId: string): DisputeObject[] {
    return [...this.disputes.values()].filter((d) => d.payment_intent === paymentIntentId);
  }

  disputeOfCharge(chargeId: string): DisputeObject | undefined {
    return [...this.disputes.values()].find((d) => d.charge === chargeId);
  }

  clear(): void {
    this.intents.clear();
    this.charges.clear();
    this.refunds.clear();
    this.disputes.clear();
    this.authorizations.clear();
    this.requests.length = 0;
  }
}
