import type { EmulatorClock } from './clock';
import { StripeApiError, docUrl, parameterError, resourceMissing, stateError } from './errors';
import { newId, randomToken, unixNow } from './ids';
import { formatMinorUnits } from './money';
import { findTestPaymentMethod, paymentMethodObject, type TestPaymentMethod } from './payment-methods';
import type {
  BalanceTransactionObject,
  CancellationReason,
  CaptureMethod,
  ChargeObject,
  DisputeObject,
  EmulatorStore,
  IntentRecord,
  Metadata,
  PaymentIntentObject,
  RefundObject,
  RefundReason,
} from './store';

/**
 * Where money moves: PaymentIntents, their charges, refunds and disputes, following Stripe's state
 * machine for automatic and for manual capture (authorize, then capture, void or let expire). Every
 * method validates everything before it changes anything, so a refused request leaves no half-made
 * object, and emits the events Stripe would for each change.
 */

/** The API request behind an event (Stripe's `event.request`); null for changes made outside the API. */
export type EventOrigin = { requestId: string; idempotencyKey: string | null } | null;
export type EmitEvent = (type: string, object: object, origin: EventOrigin) => void;

/** A test endpoint asked for a transition the object's state does not allow (answered 409). */
export class EmulatorStateError extends Error {
  override name = 'EmulatorStateError';
}

export interface CreateIntentInput {
  amount: number;
  currency: string;
  paymentMethod?: string;
  confirm: boolean;
  metadata: Metadata;
  description?: string;
  receiptEmail?: string;
  returnUrl?: string;
  captureMethod?: CaptureMethod;
  paymentMethodTypes?: string[];
  allowedPaymentMethodTypes?: string[];
  automaticPaymentMethods?: { enabled: boolean; allow_redirects?: 'always' | 'never' };
}

export interface UpdateIntentInput {
  amount?: number;
  currency?: string;
  paymentMethod?: string;
  /** Merged key by key; an empty value removes its key, and `''` for the whole of it removes every key. */
  metadata?: Metadata | '';
  description?: string;
  receiptEmail?: string;
}

export type Outcome = 'succeed' | 'fail';
export type DisputeOutcome = 'won' | 'lost';

/** How long Stripe holds an uncaptured card authorization before cancelling its intent: 7 days by default. */
export const DEFAULT_AUTHORIZATION_VALIDITY_SECONDS = 7 * 24 * 3600;

/** What Stripe withdraws on top of the disputed amount (its US dispute fee, in the charge's currency). */
export const DISPUTE_FEE = 1500;
/** When the cardholder's bank wants the evidence by, counted from the dispute's opening. */
const EVIDENCE_DUE_SECONDS = 21 * 24 * 3600;

const CANCELABLE = ['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action'] as const;
/** Disputes during which the charge's money is with the cardholder: no refund on top of it. */
const REFUND_BLOCKING_DISPUTES = ['needs_response', 'under_review', 'lost'] as const;
const CONFIRMABLE = ['requires_payment_method', 'requires_confirmation', 'requires_action'] as const;
/** Statuses in which Stripe lets the amount, currency or payment method change: no attempt is under way or done. */
const AMOUNT_UPDATABLE = ['requires_payment_method', 'requires_confirmation', 'requires_action'] as const;

const AUTHENTICATION_FAILURE_MESSAGE =
  'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.';

const RETURN_URL_REQUIRED_MESSAGE =
  'This PaymentIntent is configured to accept payment methods enabled in your Dashboard, because automatic_payment_methods is enabled. ' +
  'Some of these payment methods might redirect your customer off of your page and you must provide a `return_url`. ' +
  "If you don't want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and " +
  '`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.';

export class Ledger {
  constructor(
    private readonly store: EmulatorStore,
    private readonly emit: EmitEvent,
    /** The emulator's 3-D Secure page for an intent, at its public URL. */
    private readonly challengeUrl: (paymentIntentId: string) => string,
    /** When an intent was made, on the clock search's index lag and authorization expiry are measured with. */
    private readonly clock: EmulatorClock,
    /** How long an authorization holds before Stripe cancels its intent (see expireDueAuthorizations). */
    private readonly authorizationValiditySeconds: number = DEFAULT_AUTHORIZATION_VALIDITY_SECONDS,
  ) {}

  createIntent(input: CreateIntentInput, origin: EventOrigin): PaymentIntentObject {
    if (input.amount < 50) {
      throw parameterError(`Amount must be at least ${formatMinorUnits(50, input.currency)}`, { code: 'amount_too_small', param: 'amount' });
    }
    if (input.paymentMethodTypes && input.automaticPaymentMethods) {
      throw parameterError('You may only specify one of these parameters: automatic_payment_methods, payment_method_types.');
    }
    if (input.returnUrl && !input.confirm) {
      throw parameterError('You can only pass `return_url` if `confirm` is set to true.', { param: 'return_url' });
    }
    const paymentMethod = input.paymentMethod ? this.paymentMethod(input.paymentMethod) : null;
    if (paymentMethod && input.captureMethod === 'manual') requireSeparateCapture(paymentMethod);
    const restrictedTypes = input.allowedPaymentMethodTypes ?? input.paymentMethodTypes;
    // Without an explicit list, Stripe's current API versions turn automatic payment methods on (redirects allowed).
    const automatic = restrictedTypes && !input.automaticPaymentMethods
      ? null
      : { enabled: input.automaticPaymentMethods?.enabled ?? true, allow_redirects: input.automaticPaymentMethods?.allow_redirects ?? 'always' };
    if (input.confirm) {
      if (!paymentMethod) throw missingPaymentMethod();
      requireReturnUrlWhenRedirectsAllowed(automatic, input.returnUrl ?? null);
    }

    const id = newId('pi');
    const record: IntentRecord = {
      object: {
        id,
        object: 'payment_intent',
        allowed_payment_method_types: input.allowedPaymentMethodTypes ?? null,
        amount: input.amount,
        amount_capturable: 0,
        amount_details: { tip: {} },
        amount_received: 0,
        application: null,
        application_fee_amount: null,
        automatic_payment_methods: automatic,
        canceled_at: null,
        cancellation_reason: null,
        capture_method: input.captureMethod ?? 'automatic_async',
        client_secret: `${id}_secret_${randomToken(25)}`,
        confirmation_method: 'automatic',
        created: unixNow(),
        currency: input.currency.toLowerCase(),
        customer: null,
        customer_account: null,
        description: input.description ?? null,
        excluded_payment_method_types: null,
        last_payment_error: null,
        latest_charge: null,
        livemode: false,
        managed_payments: null,
        metadata: input.metadata,
        next_action: null,
        on_behalf_of: null,
        payment_method: paymentMethod?.id ?? null,
        payment_method_configuration_details: null,
        payment_method_options: { card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' } },
        payment_method_types: restrictedTypes ?? ['card'],
        payment_record: null,
        processing: null,
        receipt_email: input.receiptEmail ?? null,
        review: null,
        setup_future_usage: null,
        shipping: null,
        source: null,
        statement_descriptor: null,
        statement_descriptor_suffix: null,
        status: paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
        transfer_data: null,
        transfer_group: null,
      },
      returnUrl: input.returnUrl ?? null,
      paymentMethod,
      createdAtMs: this.clock.now(),
    };
    this.store.intents.set(id, record);
    this.emit('payment_intent.created', record.object, origin);
    if (input.confirm && paymentMethod) this.attempt(record, paymentMethod, origin);
    return record.object;
  }

  confirmIntent(id: string, input: { paymentMethod?: string; returnUrl?: string; receiptEmail?: string }, origin: EventOrigin): PaymentIntentObject {
    const record = this.intentOrThrow(id);
    const intent = record.object;
    if (!isOneOf(intent.status, CONFIRMABLE)) {
      throw stateError(
        intent.status === 'succeeded'
          ? 'You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.'
          : `You cannot confirm this PaymentIntent because it has a status of ${intent.status}.`,
        'payment_intent_unexpected_state',
        { payment_intent: clone(intent) },
      );
    }
    const paymentMethod = input.paymentMethod ? this.paymentMethod(input.paymentMethod) : record.paymentMethod;
    if (!paymentMethod) throw missingPaymentMethod();
    if (intent.capture_method === 'manual') requireSeparateCapture(paymentMethod);
    const returnUrl = input.returnUrl ?? record.returnUrl;
    requireReturnUrlWhenRedirectsAllowed(intent.automatic_payment_methods, returnUrl);

    record.returnUrl = returnUrl;
    if (input.receiptEmail !== undefined) intent.receipt_email = input.receiptEmail || null;
    this.attempt(record, paymentMethod, origin);
    return intent;
  }

  /**
   * `POST /v1/payment_intents/:id`. What moves money (amount, currency, payment method) changes only
   * before a payment attempt is under way; labels (metadata, description, receipt email) change in
   * any status. A new payment method sends the intent back to `requires_confirmation`. Stripe sends
   * no event for an update.
   */
  updateIntent(id: string, input: UpdateIntentInput): PaymentIntentObject {
    const record = this.intentOrThrow(id);
    const intent = record.object;
    const moneyFields = (['amount', 'currency', 'paymentMethod'] as const).filter((f) => input[f] !== undefined);
    if (moneyFields.length > 0 && !isOneOf(intent.status, AMOUNT_UPDATABLE)) {
      throw stateError(
        `This PaymentIntent's ${moneyFields.map((f) => (f === 'paymentMethod' ? 'payment_method' : f)).join(', ')} could not be updated because it has a status of ${intent.status}. ` +
          `You may only update the ${moneyFields.length > 1 ? 'fields' : 'field'} of a PaymentIntent with one of the following statuses: ${AMOUNT_UPDATABLE.join(', ')}.`,
        'payment_intent_unexpected_state',
        { payment_intent: clone(intent) },
      );
    }
    const currency = input.currency ?? intent.currency;
    if (input.amount !== undefined && input.amount < 50) {
      throw parameterError(`Amount must be at least ${formatMinorUnits(50, currency)}`, { code: 'amount_too_small', param: 'amount' });
    }
    const paymentMethod = input.paymentMethod ? this.paymentMethod(input.paymentMethod) : undefined;
    if (paymentMethod && intent.capture_method === 'manual') requireSeparateCapture(paymentMethod);

    if (input.amount !== undefined) intent.amount = input.amount;
    if (input.currency !== undefined) intent.currency = input.currency.toLowerCase();
    if (paymentMethod) {
      record.paymentMethod = paymentMethod;
      intent.payment_method = paymentMethod.id;
      intent.status = 'requires_confirmation';
      intent.next_action = null;
    }
    if (input.metadata !== undefined) intent.metadata = mergeMetadata(intent.metadata, input.metadata);
    if (input.description !== undefined) intent.description = input.description || null;
    if (input.receiptEmail !== undefined) intent.receipt_email = input.receiptEmail || null;
    return intent;
  }

  cancelIntent(id: string, reason: CancellationReason | undefined, origin: EventOrigin): PaymentIntentObject {
    const record = this.intentOrThrow(id);
    const intent = record.object;
    if (!isOneOf(intent.status, CANCELABLE)) {
      // `processing` is refused too: a card payment already sent to the network cannot be voided, it
      // has to settle and then be refunded, which is what the saga's undo must cope with.
      throw stateError(
        `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE.join(', ')}.`,
        'payment_intent_unexpected_state',
        { payment_intent: clone(intent) },
      );
    }
    if (intent.status === 'requires_capture') {
      // A void: Stripe refunds the uncaptured amount, which releases the hold on the card.
      const refund = this.releaseAuthorization(record, null);
      this.emit('refund.created', refund, origin);
      this.emit('charge.refunded', this.store.charges.get(refund.charge)!, origin);
    }
    this.markCanceled(intent, reason ?? null);
    this.emit('payment_intent.canceled', intent, origin);
    return intent;
  }

  /**
   * `POST /v1/payment_intents/:id/capture`: takes `amountToCapture` (default: all that is capturable)
   * of an authorization. A partial capture releases the rest at once (one capture per authorization,
   * multicapture is not emulated), so only what was captured can later be refunded.
   */
  captureIntent(id: string, input: { amountToCapture?: number; metadata?: Metadata | '' }, origin: EventOrigin): PaymentIntentObject {
    const record = this.intentOrThrow(id);
    const intent = record.object;
    const charge = intent.latest_charge ? this.store.charges.get(intent.latest_charge) : undefined;
    if (intent.status !== 'requires_capture' || !charge) {
      throw stateError(
        `This PaymentIntent could not be captured because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`,
        'payment_intent_unexpected_state',
        { payment_intent: clone(intent) },
      );
    }
    const amount = input.amountToCapture ?? intent.amount_capturable;
    if (amount < 1) {
      throw parameterError('This value must be greater than or equal to 1.', { code: 'parameter_invalid_integer', param: 'amount_to_capture' });
    }
    if (amount > intent.amount_capturable) {
      throw stateError(
        `The amount to capture (${formatMinorUnits(amount, intent.currency)}) is greater than the amount capturable on this PaymentIntent (${formatMinorUnits(intent.amount_capturable, intent.currency)}).`,
        'amount_too_large',
        { param: 'amount_to_capture', payment_intent: clone(intent) },
      );
    }

    const released = intent.amount_capturable - amount;
    charge.captured = true;
    charge.amount_captured = amount;
    charge.balance_transaction = newId('txn');
    if (released > 0) this.releaseAuthorization(record, null, released);
    this.store.authorizations.delete(intent.id);
    if (input.metadata !== undefined) intent.metadata = mergeMetadata(intent.metadata, input.metadata);
    intent.status = 'succeeded';
    intent.amount_received = amount;
    intent.amount_capturable = 0;
    this.emit('charge.captured', charge, origin);
    this.emit('payment_intent.succeeded', intent, origin);
    return intent;
  }

  /**
   * What Stripe does to an authorization nobody captured in time: the uncaptured amount is refunded
   * (reason `expired_uncaptured_charge`), the charge expires and the intent is canceled with
   * cancellation_reason `automatic`. No API request is behind it, so its events carry none.
   */
  expireAuthorization(id: string): PaymentIntentObject {
    const record = this.intentOrThrow(id);
    const intent = record.object;
    if (intent.status !== 'requires_capture') {
      throw new EmulatorStateError(`PaymentIntent ${id} is ${intent.status}; only an authorization (requires_capture) can expire`);
    }
    const refund = this.releaseAuthorization(record, 'expired_uncaptured_charge');
    this.emit('charge.expired', this.store.charges.get(refund.charge)!, null);
    this.markCanceled(intent, 'automatic');
    this.emit('payment_intent.canceled', intent, null);
    return intent;
  }

  /** Expires every authorization whose validity has run out on the emulator's clock. */
  expireDueAuthorizations(): void {
    const now = this.clock.now();
    for (const id of [...this.store.authorizations]) {
      const record = this.store.intent(id);
      if (record && record.createdAtMs + this.authorizationValiditySeconds * 1000 <= now) this.expireAuthorization(id);
    }
  }

  /** When the next authorization expires, on the emulator's clock; null when none is held. */
  nextAuthorizationExpiry(): number | null {
    let next: number | null = null;
    for (const id of this.store.authorizations) {
      const record = this.store.intent(id);
      if (!record) continue;
      const due = record.createdAtMs + this.authorizationValiditySeconds * 1000;
      if (next === null || due < next) next = due;
    }
    return next;
  }

  /** The customer's answer on the 3-D Secure page. */
  completeAuthentication(id: string, outcome: Outcome): PaymentIntentObject {
    const record = this.intentOrThrow(id);
    const { object: intent, paymentMethod } = record;
    if (intent.status !== 'requires_action' || !paymentMethod) {
      throw new EmulatorStateError(`PaymentIntent ${id} is ${intent.status}, not waiting for authentication`);
    }
    intent.next_action = null;
    if (outcome === 'succeed') {
      this.paid(record, this.newCharge(record, paymentMethod, 'succeeded'), null);
    } else {
      this.fail(
        record,
        {
          type: 'invalid_request_error',
          code: 'payment_intent_authentication_failure',
          doc_url: docUrl('payment_intent_authentication_failure'),
          message: AUTHENTICATION_FAILURE_MESSAGE,
          payment_method: paymentMethodObject(paymentMethod),
        },
        null,
      );
    }
    return intent;
  }

  /** The end of an asynchronous payment: the network's answer for a `processing` intent. */
  settleProcessing(id: string, outcome: Outcome): PaymentIntentObject {
    const record = this.intentOrThrow(id);
    const { object: intent, paymentMethod } = record;
    const charge = intent.latest_charge ? this.store.charges.get(intent.latest_charge) : undefined;
    if (intent.status !== 'processing' || !paymentMethod || !charge) {
      throw new EmulatorStateError(`PaymentIntent ${id} is ${intent.status}, not processing`);
    }
    if (outcome === 'succeed') {
      markChargeSucceeded(charge);
      this.succeed(record, charge, null);
    } else {
      markChargeFailed(charge, 'card_declined', 'Your card was declined.', 'generic_decline');
      this.emit('charge.failed', charge, null);
      this.fail(record, cardError(charge, paymentMethod, 'card_declined', 'generic_decline', 'Your card was declined.'), null);
    }
    return intent;
  }

  refund(
    input: { paymentIntent?: string; charge?: string; amount?: number; reason?: RefundReason; metadata: Metadata },
    origin: EventOrigin,
  ): RefundObject {
    const charge = this.refundableCharge(input);
    // What remains is what was captured and not yet given back: a released authorization counts as refunded.
    const remaining = charge.amount - charge.amount_refunded;
    const dispute = this.store.disputeOfCharge(charge.id);
    if (dispute && isOneOf(dispute.status, REFUND_BLOCKING_DISPUTES)) {
      throw stateError(`Charge ${charge.id} has been charged back; cannot issue a refund.`, 'charge_disputed');
    }
    if (remaining <= 0) {
      throw stateError(`Charge ${charge.id} has already been refunded.`, 'charge_already_refunded');
    }
    const amount = input.amount ?? remaining;
    if (amount <= 0) {
      throw parameterError('Invalid positive integer', { code: 'parameter_invalid_integer', param: 'amount' });
    }
    if (amount > remaining) {
      throw stateError(
        `Refund amount (${formatMinorUnits(amount, charge.currency)}) is greater than unrefunded amount on charge (${formatMinorUnits(remaining, charge.currency)})`,
        'amount_too_large',
        { param: 'amount' },
      );
    }
    const refund = refundFields(charge, amount, { metadata: input.metadata, reason: input.reason ?? null });
    this.store.refunds.set(refund.id, refund);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded >= charge.amount;
    this.emit('refund.created', refund, origin);
    this.emit('charge.refunded', charge, origin);
    return refund;
  }

  /**
   * A dispute opened by the cardholder's bank on money that was taken: by default all of it that was
   * not refunded. Stripe withdraws the disputed amount plus its dispute fee from the balance at once
   * (`charge.dispute.funds_withdrawn`), and the charge can no longer be refunded while it is open.
   */
  dispute(chargeId: string, input: { reason: string; amount?: number }): DisputeObject {
    const charge = this.store.charges.get(chargeId);
    if (!charge) throw resourceMissing('charge', chargeId, 'charge');
    if (charge.status !== 'succeeded') throw new EmulatorStateError(`Charge ${chargeId} is ${charge.status}; only a succeeded charge can be disputed`);
    if (!charge.captured) throw new EmulatorStateError(`Charge ${chargeId} is an authorization that was never captured; only money taken can be disputed`);
    if (charge.disputed) throw new EmulatorStateError(`Charge ${chargeId} is already disputed`);
    const disputable = charge.amount - charge.amount_refunded;
    const amount = input.amount ?? disputable;
    if (amount > disputable || disputable <= 0) {
      throw new EmulatorStateError(`Charge ${chargeId} has ${formatMinorUnits(disputable, charge.currency)} left to dispute, not ${formatMinorUnits(amount, charge.currency)}`);
    }
    const created = unixNow();
    const id = newId('dp');
    const dispute: DisputeObject = {
      id,
      object: 'dispute',
      amount,
      balance_transactions: [
        balanceTransaction({ amount: -amount, fee: DISPUTE_FEE, currency: charge.currency, source: id, category: 'dispute', description: `Chargeback withdrawal for ${charge.id}` }),
      ],
      charge: charge.id,
      created,
      currency: charge.currency,
      enhanced_eligibility_types: [],
      evidence: emptyEvidence(),
      evidence_details: { due_by: created + EVIDENCE_DUE_SECONDS, enhanced_eligibility: {}, has_evidence: false, past_due: false, submission_count: 0 },
      is_charge_refundable: false,
      livemode: false,
      metadata: {},
      payment_intent: charge.payment_intent,
      payment_method_details: { card: { brand: charge.payment_method_details.card.brand, case_type: 'chargeback', network_reason_code: null }, type: 'card' },
      reason: input.reason,
      status: 'needs_response',
    };
    this.store.disputes.set(dispute.id, dispute);
    charge.disputed = true;
    this.emit('charge.dispute.created', dispute, null);
    this.emit('charge.dispute.funds_withdrawn', dispute, null);
    return dispute;
  }

  /** The merchant answers a dispute with evidence (in the dashboard, or `POST /v1/disputes/:id` with `submit`): it goes under review. */
  submitDisputeEvidence(id: string): DisputeObject {
    const dispute = this.disputeOrThrow(id);
    if (dispute.status !== 'needs_response') {
      throw new EmulatorStateError(`Dispute ${id} is ${dispute.status}; evidence can be submitted only while it needs a response`);
    }
    dispute.status = 'under_review';
    dispute.evidence_details.has_evidence = true;
    dispute.evidence_details.submission_count += 1;
    this.emit('charge.dispute.updated', dispute, null);
    return dispute;
  }

  /**
   * The cardholder's bank decides. Won: the disputed amount comes back to the balance
   * (`charge.dispute.funds_reinstated`; the dispute fee does not) and the charge can be refunded
   * again. Lost: the money stays with the cardholder, as if refunded, and the charge cannot be.
   */
  closeDispute(id: string, outcome: DisputeOutcome): DisputeObject {
    const dispute = this.disputeOrThrow(id);
    if (dispute.status !== 'needs_response' && dispute.status !== 'under_review') {
      throw new EmulatorStateError(`Dispute ${id} is already closed (${dispute.status})`);
    }
    dispute.status = outcome;
    if (outcome === 'won') {
      dispute.balance_transactions.push(
        balanceTransaction({ amount: dispute.amount, fee: 0, currency: dispute.currency, source: id, category: 'dispute_reversal', description: `Chargeback reversal for ${dispute.charge}` }),
      );
    }
    this.emit('charge.dispute.closed', dispute, null);
    if (outcome === 'won') this.emit('charge.dispute.funds_reinstated', dispute, null);
    return dispute;
  }

  disputeOrThrow(id: string): DisputeObject {
    const dispute = this.store.disputes.get(id);
    if (!dispute) throw resourceMissing('dispute', id, 'dispute');
    return dispute;
  }

  /** A charge named by its id, or by its intent's id for convenience (the intent's latest charge). */
  chargeOrThrow(id: string): ChargeObject {
    const chargeId = id.startsWith('pi_') ? this.intentOrThrow(id).object.latest_charge : id;
    const charge = chargeId ? this.store.charges.get(chargeId) : undefined;
    if (!charge) throw resourceMissing('charge', id, 'charge');
    return charge;
  }

  intentOrThrow(id: string, param = 'intent', status: 400 | 404 = 404): IntentRecord {
    const record = this.store.intent(id);
    if (!record) throw resourceMissing('payment_intent', id, param, status);
    return record;
  }

  private paymentMethod(id: string): TestPaymentMethod {
    const pm = findTestPaymentMethod(id);
    if (!pm) throw resourceMissing('PaymentMethod', id, 'payment_method', 400);
    return pm;
  }

  /** One confirmation attempt with a test card: the card's behaviour decides where the intent goes. */
  private attempt(record: IntentRecord, paymentMethod: TestPaymentMethod, origin: EventOrigin): void {
    const intent = record.object;
    record.paymentMethod = paymentMethod;
    intent.payment_method = paymentMethod.id;
    intent.last_payment_error = null;
    intent.next_action = null;
    const behaviour = paymentMethod.behaviour;
    switch (behaviour.kind) {
      case 'succeed':
        this.paid(record, this.newCharge(record, paymentMethod, 'succeeded'), origin);
        return;
      case 'authenticate':
        intent.status = 'requires_action';
        intent.next_action = {
          type: 'redirect_to_url',
          redirect_to_url: { url: this.challengeUrl(intent.id), return_url: record.returnUrl },
        };
        this.emit('payment_intent.requires_action', intent, origin);
        return;
      case 'processing': {
        const charge = this.newCharge(record, paymentMethod, 'pending');
        intent.status = 'processing';
        intent.latest_charge = charge.id;
        this.emit('charge.pending', charge, origin);
        this.emit('payment_intent.processing', intent, origin);
        return;
      }
      case 'decline': {
        const charge = this.newCharge(record, paymentMethod, 'failed');
        markChargeFailed(charge, behaviour.code, behaviour.message, behaviour.declineCode);
        this.emit('charge.failed', charge, origin);
        const error = cardError(charge, paymentMethod, behaviour.code, behaviour.declineCode, behaviour.message);
        this.fail(record, error, origin);
        // Stripe answers a declined confirmation with a 402 carrying the intent as it now is.
        throw new StripeApiError(
          402,
          {
            type: 'card_error',
            code: behaviour.code,
            decline_code: behaviour.declineCode,
            doc_url: docUrl(behaviour.code),
            message: behaviour.message,
            charge: charge.id,
            payment_intent: clone(intent),
            payment_method: paymentMethodObject(paymentMethod),
          },
          true,
        );
      }
    }
  }

  /** The card network approved: money taken at once, or only held when the intent captures manually. */
  private paid(record: IntentRecord, charge: ChargeObject, origin: EventOrigin): void {
    if (record.object.capture_method === 'manual') this.authorize(record, charge, origin);
    else this.succeed(record, charge, origin);
  }

  private authorize(record: IntentRecord, charge: ChargeObject, origin: EventOrigin): void {
    const intent = record.object;
    intent.status = 'requires_capture';
    intent.amount_capturable = intent.amount;
    intent.latest_charge = charge.id;
    intent.next_action = null;
    this.store.authorizations.add(intent.id);
    this.emit('charge.succeeded', charge, origin);
    this.emit('payment_intent.amount_capturable_updated', intent, origin);
  }

  /**
   * Gives back `amount` (default: all) of an authorization that will never be captured, as Stripe
   * does: a refund on the uncaptured charge with no balance transaction, since no money moved.
   */
  private releaseAuthorization(record: IntentRecord, reason: RefundObject['reason'], amount = record.object.amount_capturable): RefundObject {
    const intent = record.object;
    const charge = this.store.charges.get(intent.latest_charge!)!;
    const refund: RefundObject = { ...refundFields(charge, amount, { metadata: {}, reason }), balance_transaction: null };
    this.store.refunds.set(refund.id, refund);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded >= charge.amount;
    intent.amount_capturable = 0;
    this.store.authorizations.delete(intent.id);
    return refund;
  }

  private markCanceled(intent: PaymentIntentObject, reason: CancellationReason | null): void {
    intent.status = 'canceled';
    intent.canceled_at = unixNow();
    intent.cancellation_reason = reason;
    intent.next_action = null;
  }

  private succeed(record: IntentRecord, charge: ChargeObject, origin: EventOrigin): void {
    const intent = record.object;
    intent.status = 'succeeded';
    intent.amount_received = intent.amount;
    intent.latest_charge = charge.id;
    intent.next_action = null;
    this.emit('charge.succeeded', charge, origin);
    this.emit('payment_intent.succeeded', intent, origin);
  }

  /** A failed attempt: Stripe detaches the payment method and waits for a new one. */
  private fail(record: IntentRecord, error: IntentRecord['object']['last_payment_error'], origin: EventOrigin): void {
    const intent = record.object;
    intent.status = 'requires_payment_method';
    intent.last_payment_error = error;
    intent.payment_method = null;
    intent.next_action = null;
    if (error?.charge) intent.latest_charge = error.charge;
    record.paymentMethod = null;
    this.emit('payment_intent.payment_failed', intent, origin);
  }

  private newCharge(record: IntentRecord, pm: TestPaymentMethod, status: ChargeObject['status']): ChargeObject {
    const intent = record.object;
    const charge: ChargeObject = {
      id: newId('ch'),
      object: 'charge',
      amount: intent.amount,
      amount_captured: 0,
      amount_refunded: 0,
      application: null,
      application_fee: null,
      application_fee_amount: null,
      balance_transaction: null,
      billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
      calculated_statement_descriptor: 'CHECKOUT SAGA',
      captured: false,
      created: unixNow(),
      currency: intent.currency,
      customer: null,
      description: intent.description,
      disputed: false,
      failure_balance_transaction: null,
      failure_code: null,
      failure_message: null,
      fraud_details: {},
      livemode: false,
      metadata: { ...intent.metadata },
      on_behalf_of: null,
      outcome: null,
      paid: false,
      payment_intent: intent.id,
      payment_method: pm.id,
      payment_method_details: {
        card: { brand: pm.brand, country: 'US', exp_month: 12, exp_year: new Date().getUTCFullYear() + 3, funding: 'credit', last4: pm.last4, network: pm.brand },
        type: 'card',
      },
      receipt_email: intent.receipt_email,
      receipt_number: null,
      receipt_url: null,
      refunded: false,
      review: null,
      shipping: null,
      source: null,
      source_transfer: null,
      statement_descriptor: null,
      statement_descriptor_suffix: null,
      status,
      transfer_data: null,
      transfer_group: null,
    };
    if (status === 'succeeded' && intent.capture_method === 'manual') {
      markChargeAuthorized(charge, intent.created + this.authorizationValiditySeconds);
    } else if (status === 'succeeded') {
      markChargeSucceeded(charge);
    }
    this.store.charges.set(charge.id, charge);
    return charge;
  }

  private refundableCharge(input: { paymentIntent?: string; charge?: string }): ChargeObject {
    if (!input.paymentIntent && !input.charge) {
      throw parameterError('One of the following params should be provided for this request: payment_intent or charge.', {
        code: 'parameter_missing',
      });
    }
    if (input.charge) {
      const charge = this.store.charges.get(input.charge);
      if (!charge) throw resourceMissing('charge', input.charge, 'charge', 400);
      if (input.paymentIntent && charge.payment_intent !== input.paymentIntent) {
        throw parameterError(`Charge ${charge.id} does not belong to PaymentIntent ${input.paymentIntent}.`, { param: 'charge' });
      }
      if (charge.status === 'succeeded' && !charge.captured) throw uncapturedRefund(charge);
      if (charge.status !== 'succeeded') {
        throw stateError(`Charge ${charge.id} has not succeeded and cannot be refunded.`, 'charge_not_refundable');
      }
      return charge;
    }
    const { object: intent } = this.intentOrThrow(input.paymentIntent!, 'payment_intent', 400);
    const charge = intent.latest_charge ? this.store.charges.get(intent.latest_charge) : undefined;
    // Held or released, an authorization that was never captured is voided by cancelling its intent.
    if (charge?.status === 'succeeded' && !charge.captured) throw uncapturedRefund(charge);
    if (intent.status !== 'succeeded' || !charge || charge.status !== 'succeeded') {
      throw stateError(`This PaymentIntent (${intent.id}) does not have a successful charge to refund.`, 'payment_intent_unexpected_state', {
        param: 'payment_intent',
      });
    }
    return charge;
  }
}

function requireReturnUrlWhenRedirectsAllowed(automatic: PaymentIntentObject['automatic_payment_methods'], returnUrl: string | null): void {
  if (automatic?.enabled && automatic.allow_redirects !== 'never' && !returnUrl) {
    throw parameterError(RETURN_URL_REQUIRED_MESSAGE, { param: 'return_url' });
  }
}

/**
 * A method that settles asynchronously (`pm_card_processing`, standing in for bank debits such as SEPA)
 * cannot hold funds for a later capture: Stripe refuses it on an intent with capture_method=manual.
 */
function requireSeparateCapture(pm: TestPaymentMethod): void {
  if (pm.behaviour.kind !== 'processing') return;
  throw stateError(
    `The PaymentMethod provided (${pm.id}) settles asynchronously and does not support separate authorization and capture, so it cannot be used with capture_method=manual. ` +
      'Create the PaymentIntent with capture_method=automatic to use it.',
    'payment_intent_incompatible_payment_method',
    { param: 'payment_method' },
  );
}

function uncapturedRefund(charge: ChargeObject): StripeApiError {
  return stateError(
    `This uncaptured Charge was created by a PaymentIntent (${charge.payment_intent}). You must cancel the PaymentIntent to reverse the authorization instead of refunding the Charge directly. ` +
      'For more information, see https://stripe.com/docs/payments/place-a-hold-on-a-payment-method',
    undefined,
  );
}

/** `metadata[k]=v` merged key by key; an empty value removes its key, and `''` for the whole of it removes every key. */
function mergeMetadata(current: Metadata, update: Metadata | ''): Metadata {
  if (update === '') return {};
  const merged: Metadata = { ...current };
  for (const [key, value] of Object.entries(update)) {
    if (value === '') delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

function missingPaymentMethod(): StripeApiError {
  return stateError(
    "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
    'payment_intent_unexpected_state',
  );
}

function cardError(charge: ChargeObject, pm: TestPaymentMethod, code: string, declineCode: string, message: string) {
  return {
    type: 'card_error' as const,
    code,
    decline_code: declineCode,
    doc_url: docUrl(code),
    message,
    charge: charge.id,
    payment_method: paymentMethodObject(pm),
  };
}

/** Approved by the network and held on the card until `captureBefore`: paid, not captured, no money on the balance yet. */
function markChargeAuthorized(charge: ChargeObject, captureBefore: number): void {
  charge.status = 'succeeded';
  charge.paid = true;
  charge.captured = false;
  charge.amount_captured = 0;
  charge.balance_transaction = null;
  charge.payment_method_details.card.capture_before = captureBefore;
  charge.outcome = { network_status: 'approved_by_network', reason: null, risk_level: 'normal', seller_message: 'Payment complete.', type: 'authorized' };
}

function markChargeSucceeded(charge: ChargeObject): void {
  charge.status = 'succeeded';
  charge.paid = true;
  charge.captured = true;
  charge.amount_captured = charge.amount;
  charge.balance_transaction = newId('txn');
  charge.outcome = { network_status: 'approved_by_network', reason: null, risk_level: 'normal', seller_message: 'Payment complete.', type: 'authorized' };
}

function markChargeFailed(charge: ChargeObject, code: string, message: string, declineCode: string): void {
  charge.status = 'failed';
  charge.paid = false;
  charge.failure_code = code;
  charge.failure_message = message;
  charge.outcome = {
    network_status: 'declined_by_network',
    reason: declineCode,
    risk_level: 'normal',
    seller_message: 'The bank did not return any further details with this decline.',
    type: 'issuer_declined',
  };
}

/** A succeeded refund of `amount` on `charge`; money goes back to the card (a balance transaction). */
function refundFields(charge: ChargeObject, amount: number, input: { metadata: Metadata; reason: RefundObject['reason'] }): RefundObject {
  return {
    id: newId('re'),
    object: 'refund',
    amount,
    balance_transaction: newId('txn'),
    charge: charge.id,
    created: unixNow(),
    currency: charge.currency,
    customer: null,
    customer_account: null,
    destination_details: { card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' }, type: 'card' },
    metadata: input.metadata,
    payment_intent: charge.payment_intent,
    payment_method: charge.payment_method,
    reason: input.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
}

function balanceTransaction(input: {
  amount: number;
  fee: number;
  currency: string;
  source: string;
  category: BalanceTransactionObject['reporting_category'];
  description: string;
}): BalanceTransactionObject {
  const created = unixNow();
  return {
    id: newId('txn'),
    object: 'balance_transaction',
    amount: input.amount,
    available_on: created,
    created,
    currency: input.currency,
    description: input.description,
    exchange_rate: null,
    fee: input.fee,
    fee_details: input.fee > 0 ? [{ amount: input.fee, application: null, currency: input.currency, description: 'Dispute fee', type: 'stripe_fee' }] : [],
    net: input.amount - input.fee,
    reporting_category: input.category,
    source: input.source,
    status: 'pending',
    type: 'adjustment',
  };
}

/** The evidence fields a dispute shows before anything was submitted. */
function emptyEvidence(): Record<string, null> {
  const fields = [
    'access_activity_log', 'billing_address', 'cancellation_policy', 'cancellation_policy_disclosure', 'cancellation_rebuttal',
    'customer_communication', 'customer_email_address', 'customer_name', 'customer_purchase_ip', 'customer_signature',
    'duplicate_charge_documentation', 'duplicate_charge_explanation', 'duplicate_charge_id', 'product_description', 'receipt',
    'refund_policy', 'refund_policy_disclosure', 'refund_refusal_explanation', 'service_date', 'service_documentation',
    'shipping_address', 'shipping_carrier', 'shipping_date', 'shipping_documentation', 'shipping_tracking_number',
    'uncategorized_file', 'uncategorized_text',
  ];
  return Object.fromEntries(fields.map((f) => [f, null]));
}

function isOneOf<T extends string>(value: string, allowed: readonly T[]): value is T {
  return (allowed as readonly string[]).includes(value);
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}
