/**
 * The outcome events on `checkout.events`: one CloudEvent per business outcome, key = orderId.
 * Types only here so the workflow can build an event's data without importing anything with I/O.
 */

export const CHECKOUT_EVENT_TYPES = [
  'checkout.started',
  'stock.reserved',
  'payment.captured',
  'user.created',
  'order.confirmed',
  'checkout.failed',
  'checkout.cancelled',
  'checkout.needs_attention',
  'stock.released',
  'payment.voided',
  'payment.refunded',
] as const;
export type CheckoutEventType = (typeof CHECKOUT_EVENT_TYPES)[number];

export interface EventLine {
  sku: string;
  name: string;
  quantity: number;
  unitPrice: number;
  lineTotal: number;
}

/** What every event's data carries, so a consumer never needs a second lookup to place it. */
export interface EventBase {
  orderId: string;
  checkoutId: string;
  customerEmail: string;
  /** Per-order sequence number: a consumer ignores an event older than the state it holds. */
  sequence: number;
}

export interface CheckoutEventDataByType {
  'checkout.started': EventBase & { items: { sku: string; quantity: number }[] };
  'stock.reserved': EventBase & { amount: number; currency: string; lines: EventLine[] };
  'payment.captured': EventBase & { amount: number; currency: string; paymentIntentId: string };
  'user.created': EventBase & { userId: string };
  'order.confirmed': EventBase & { amount: number; currency: string; lines: EventLine[]; userId: string; customerName?: string };
  'checkout.failed': EventBase & { code: string; message: string; step: string | null };
  'checkout.cancelled': EventBase & { reason: string };
  'checkout.needs_attention': EventBase & { pendingCompensations: string[] };
  'stock.released': EventBase & { lines: { sku: string; quantity: number }[] };
  'payment.voided': EventBase & { paymentIntentId: string };
  'payment.refunded': EventBase & {
    paymentIntentId: string;
    refundId: string;
    amount: number;
    currency: string;
    totalRefunded: number;
    orderAmount: number;
    reason?: string;
  };
}

export interface OutcomeEvent<T extends CheckoutEventType = CheckoutEventType> {
  /** Deterministic per business event (`checkout-<id>:stock.reserved`): a retried publish is a duplicate. */
  id: string;
  type: T;
  data: CheckoutEventDataByType[T];
}

export const EVENT_SOURCE = 'urn:checkout-saga';
