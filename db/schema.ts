import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * The system of record. Money is always integer minor units next to an ISO 4217 currency;
 * stock can never go negative (a CHECK, not only application code).
 */

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

export const products = pgTable(
  'products',
  {
    sku: text('sku').primaryKey(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    priceMinor: integer('price_minor').notNull(),
    currency: text('currency').notNull(),
    stockAvailable: integer('stock_available').notNull(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check('products_stock_not_negative', sql`${t.stockAvailable} >= 0`),
    check('products_price_not_negative', sql`${t.priceMinor} >= 0`),
  ],
);

/** One row per checkout: the status the API falls back to when no worker answers a query. */
export const checkouts = pgTable(
  'checkouts',
  {
    id: uuid('id').primaryKey(),
    orderId: uuid('order_id').notNull().unique(),
    workflowId: text('workflow_id').notNull().unique(),
    customerEmail: text('customer_email').notNull(),
    customerName: text('customer_name'),
    status: text('status').notNull(),
    step: text('step'),
    amountMinor: integer('amount_minor'),
    currency: text('currency'),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    paymentIntentId: text('payment_intent_id'),
    paymentStatus: text('payment_status'),
    userId: uuid('user_id'),
    compensations: jsonb('compensations').$type<unknown[]>().notNull().default([]),
    /** SHA-256 of the checkout's secret (src/application/checkouts/checkout-secret.ts); null for checkouts older than secrets. */
    secretHash: text('secret_hash'),
    /** Keyed hash of the address that started it (src/api/client-address.ts), never the address: per-client admission counts by it. */
    clientHash: text('client_hash'),
    /**
     * When the checkout reached COMPLETED, FAILED or CANCELLED; written once. Its outcome event carries
     * this time, so a re-sent event (a retried workflow task) is the same event, byte for byte.
     */
    endedAt: timestamp('ended_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('checkouts_email_idx').on(t.customerEmail),
    index('checkouts_status_idx').on(t.status),
    index('checkouts_client_idx').on(t.clientHash, t.createdAt),
  ],
);

/**
 * Every status a checkout's saga showed, in order: the change feed the API follows instead of asking
 * the workflow. The saga writes a row per change (a local activity, `recordCheckoutStatus`) and
 * NOTIFYs `checkout_status` in the same transaction; each API instance LISTENs, so long-polls and
 * Server-Sent Events answer from here, and `Last-Event-ID` (the version) resumes without a gap.
 * `doc` is the status as the workflow's query would answer it, without secrets (no client secret).
 */
export const checkoutStatusChanges = pgTable(
  'checkout_status_changes',
  {
    checkoutId: uuid('checkout_id').notNull(),
    version: integer('version').notNull(),
    status: text('status').notNull(),
    doc: jsonb('doc').notNull(),
    recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.checkoutId, t.version] })],
);

/** `Idempotency-Key` of POST /api/checkouts: the same key and body always map to one checkout. */
export const idempotencyKeys = pgTable('idempotency_keys', {
  key: text('key').primaryKey(),
  requestHash: text('request_hash').notNull(),
  checkoutId: uuid('checkout_id').notNull(),
  createdAt: createdAt(),
});

/**
 * An order's life: PENDING while its checkout runs, then CONFIRMED, FAILED, CANCELLED or
 * NEEDS_ATTENTION; a refund moves a CONFIRMED order to PARTIALLY_REFUNDED or REFUNDED.
 */
export const ORDER_STATUSES = ['PENDING', 'CONFIRMED', 'FAILED', 'CANCELLED', 'NEEDS_ATTENTION', 'PARTIALLY_REFUNDED', 'REFUNDED', 'DISPUTED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const orders = pgTable(
  'orders',
  {
    id: uuid('id').primaryKey(),
    checkoutId: uuid('checkout_id').notNull().unique(),
    customerEmail: text('customer_email').notNull(),
    userId: uuid('user_id'),
    status: text('status').notNull(),
    amountMinor: integer('amount_minor').notNull(),
    currency: text('currency').notNull(),
    refundedMinor: integer('refunded_minor').notNull().default(0),
    /** Money the buyer got back through disputes the shop lost: it counts as returned, like a refund. */
    disputeLostMinor: integer('dispute_lost_minor').notNull().default(0),
    /** Sequence number of the last event published for this order; refund events continue from it. */
    lastEventSequence: integer('last_event_sequence').notNull().default(0),
    confirmedAt: timestamp('confirmed_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check('orders_refund_within_amount', sql`${t.refundedMinor} >= 0 AND ${t.refundedMinor} <= ${t.amountMinor}`),
    check('orders_returned_within_amount', sql`${t.disputeLostMinor} >= 0 AND ${t.refundedMinor} + ${t.disputeLostMinor} <= ${t.amountMinor}`),
  ],
);

/**
 * One row per Stripe dispute on an order's charge, as Stripe last described it. While one is open
 * the order is DISPUTED (Stripe refuses refunds of a disputed charge); a lost one adds its amount to
 * the order's dispute_lost_minor. The sequences are those of the payment.disputed and
 * payment.dispute_closed events it was announced with, so a re-sent announcement is the same event.
 */
export const disputes = pgTable(
  'disputes',
  {
    id: text('id').primaryKey(),
    orderId: uuid('order_id').notNull(),
    paymentIntentId: text('payment_intent_id').notNull(),
    chargeId: text('charge_id').notNull(),
    amountMinor: integer('amount_minor').notNull(),
    currency: text('currency').notNull(),
    reason: text('reason').notNull(),
    /** Stripe's dispute status: needs_response, under_review, won, lost, ... */
    status: text('status').notNull(),
    /** When the shop's evidence is due (Stripe's evidence_details.due_by); what ops must act before. */
    evidenceDueBy: timestamp('evidence_due_by', { withTimezone: true }),
    /** won or lost once Stripe closed it. */
    outcome: text('outcome'),
    openedSequence: integer('opened_sequence').notNull(),
    closedSequence: integer('closed_sequence'),
    /** The order's returned total (refunds and lost disputes) when it closed: part of its announcement. */
    returnedAtClose: integer('returned_at_close'),
    openedAt: timestamp('opened_at', { withTimezone: true }).notNull().defaultNow(),
    closedAt: timestamp('closed_at', { withTimezone: true }),
    updatedAt: updatedAt(),
  },
  (t) => [index('disputes_order_idx').on(t.orderId)],
);

/** Lines priced from the catalog at reservation time; also what a release puts back. */
export const orderLines = pgTable(
  'order_lines',
  {
    orderId: uuid('order_id').notNull().references(() => orders.id),
    sku: text('sku').notNull().references(() => products.sku),
    name: text('name').notNull(),
    quantity: integer('quantity').notNull(),
    unitPriceMinor: integer('unit_price_minor').notNull(),
    lineTotalMinor: integer('line_total_minor').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orderId, t.sku] }), check('order_lines_quantity_positive', sql`${t.quantity} > 0`)],
);

/**
 * RESERVED -> CONSUMED (order confirmed) or RELEASED (compensated); a release happens at most once.
 * CONSUMED -> RETURNED when a refund leaves the order fully refunded and its stock goes back, once.
 */
export const reservations = pgTable('reservations', {
  checkoutId: uuid('checkout_id').primaryKey(),
  orderId: uuid('order_id').notNull().references(() => orders.id),
  status: text('status').notNull(),
  createdAt: createdAt(),
  releasedAt: timestamp('released_at', { withTimezone: true }),
});

export const payments = pgTable('payments', {
  paymentIntentId: text('payment_intent_id').primaryKey(),
  checkoutId: uuid('checkout_id').notNull().unique(),
  orderId: uuid('order_id').notNull(),
  amountMinor: integer('amount_minor').notNull(),
  currency: text('currency').notNull(),
  status: text('status').notNull(),
  capturedMinor: integer('captured_minor').notNull().default(0),
  refundedMinor: integer('refunded_minor').notNull().default(0),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/**
 * One row per refund request, keyed by its refund key so a repeated request refunds once.
 * PENDING claims the amount before Stripe is called (so concurrent refunds of one order cannot
 * over-refund), SUCCEEDED once Stripe refunded and the order's totals include it, FAILED when
 * Stripe refused. A refund made outside the service is recorded SUCCEEDED with source 'stripe'.
 */
export const refunds = pgTable(
  'refunds',
  {
    refundKey: text('refund_key').primaryKey(),
    orderId: uuid('order_id').notNull(),
    paymentIntentId: text('payment_intent_id').notNull(),
    stripeRefundId: text('stripe_refund_id').unique(),
    amountMinor: integer('amount_minor').notNull(),
    currency: text('currency').notNull(),
    reason: text('reason'),
    source: text('source').notNull(),
    status: text('status').notNull(),
    createdAt: createdAt(),
    /** The order's event sequence its payment.refunded carries: a re-sent event is byte-identical. */
    eventSequence: integer('event_sequence'),
    /** The order's refunded total right after this refund, for the same reason. */
    refundedTotalMinor: integer('refunded_total_minor'),
    failureReason: text('failure_reason'),
    settledAt: timestamp('settled_at', { withTimezone: true }),
  },
  (t) => [index('refunds_order_idx').on(t.orderId)],
);

export const users = pgTable('users', {
  id: uuid('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name'),
  /** Set only when a checkout created the account: its compensation may remove only those. */
  createdByCheckoutId: uuid('created_by_checkout_id'),
  createdAt: createdAt(),
});

/** How a checkout's sign-in token reaches its buyer: the page's redirect (an account the checkout created) or an email to the account's address. */
export const SSO_DELIVERIES = ['redirect', 'email'] as const;
export type SsoDelivery = (typeof SSO_DELIVERIES)[number];

/** Only the SHA-256 of a token is stored; the raw token exists in the redirect URL or the email alone. */
export const ssoTokens = pgTable('sso_tokens', {
  id: uuid('id').primaryKey(),
  checkoutId: uuid('checkout_id').notNull().unique(),
  userId: uuid('user_id').notNull(),
  tokenHash: text('token_hash').notNull().unique(),
  delivery: text('delivery').$type<SsoDelivery>().notNull().default('redirect'),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  usedAt: timestamp('used_at', { withTimezone: true }),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
  createdAt: createdAt(),
});

/** Every Stripe webhook delivery we accepted, deduplicated by Stripe's event id. */
export const stripeEvents = pgTable('stripe_events', {
  id: text('id').primaryKey(),
  type: text('type').notNull(),
  paymentIntentId: text('payment_intent_id'),
  checkoutId: uuid('checkout_id'),
  outcome: text('outcome').notNull(),
  payload: jsonb('payload').notNull(),
  receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * The API's per-client rate-limit counters (src/api/rate-limits.ts), written by rate-limiter-flexible:
 * `key` is the limit's name and the client's keyed address hash, `points` the requests counted in the
 * window that ends at `expire`. Shared by every API instance.
 */
export const rateLimits = pgTable('rate_limits', {
  key: text('key').primaryKey(),
  points: integer('points').notNull(),
  expire: timestamp('expire', { withTimezone: true }),
});
