import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * The downstream consumers' own tables live each in its own PostgreSQL schema, written only by that
 * consumer: the API and the saga never write there, and the saga's tables (db/schema.ts) are never
 * written by a consumer, so a consumer's state can be dropped and rebuilt by replaying
 * `checkout.events` from the start under a new consumer group. This file: the order-history
 * projector's read model (consumer group order-history-projector); db/notifications-schema.ts: the
 * notification sender's.
 */
export const orderHistory = pgSchema('order_history');

/** A line as the read model shows it; price fields are null while only the requested cart is known. */
export interface OrderHistoryLine {
  sku: string;
  name: string | null;
  quantity: number;
  unitPrice: number | null;
  lineTotal: number | null;
}

export interface OrderHistoryStatusEntry {
  status: string;
  at: string;
  eventId: string;
  sequence: number;
}

export interface OrderHistoryRefund {
  refundId: string;
  amount: number;
  currency: string;
  totalRefunded: number;
  reason: string | null;
  at: string;
  eventId: string;
  sequence: number;
}

/** A dispute of the order's payment, filled from payment.disputed and payment.dispute_closed in whatever order they arrive. */
export interface OrderHistoryDispute {
  disputeId: string;
  amount: number;
  currency: string;
  reason: string | null;
  /** When the shop's evidence is due; null once unknown or decided. */
  evidenceDueBy: string | null;
  outcome: 'won' | 'lost' | null;
  openedAt: string | null;
  closedAt: string | null;
}

export interface OrderHistoryFailure {
  code: string;
  message: string;
  step: string | null;
}

/**
 * One row per order. Every column is a function of the set of events applied (precedence by the
 * events' per-order sequence), so any delivery order of the same events ends in the same row.
 */
export const orderHistoryOrders = orderHistory.table(
  'orders',
  {
    orderId: uuid('order_id').primaryKey(),
    checkoutId: uuid('checkout_id').notNull(),
    customerEmail: text('customer_email').notNull(),
    customerName: text('customer_name'),
    userId: uuid('user_id'),
    status: text('status').notNull(),
    amountMinor: integer('amount_minor'),
    currency: text('currency'),
    lines: jsonb('lines').$type<OrderHistoryLine[]>().notNull().default([]),
    refundedMinor: integer('refunded_minor').notNull().default(0),
    refunds: jsonb('refunds').$type<OrderHistoryRefund[]>().notNull().default([]),
    disputes: jsonb('disputes').$type<OrderHistoryDispute[]>().notNull().default([]),
    statusHistory: jsonb('status_history').$type<OrderHistoryStatusEntry[]>().notNull().default([]),
    failure: jsonb('failure').$type<OrderHistoryFailure>(),
    paymentIntentId: text('payment_intent_id'),
    /** The highest event sequence applied; an event at or below it cannot override current state. */
    lastSequence: integer('last_sequence').notNull(),
    lastEventId: text('last_event_id').notNull(),
    /** Time of the earliest event seen (checkout.started once it has arrived). */
    placedAt: timestamp('placed_at', { withTimezone: true }).notNull(),
    /** Time of the event with the highest sequence. */
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
    projectedAt: timestamp('projected_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('orders_customer_email_idx').on(sql`lower(${t.customerEmail})`, t.placedAt), index('orders_user_idx').on(t.userId)],
);

/**
 * Every event id the projector applied, written in the same transaction as the order row: a
 * redelivered event finds its id here and changes nothing.
 */
export const orderHistoryProcessedEvents = orderHistory.table('processed_events', {
  eventId: text('event_id').primaryKey(),
  eventType: text('event_type').notNull(),
  orderId: uuid('order_id').notNull(),
  sequence: integer('sequence').notNull(),
  /** `applied`: newest for its order when it came; `late`: an older sequence, merged into the histories only. */
  outcome: text('outcome').notNull(),
  kafkaPartition: integer('kafka_partition'),
  kafkaOffset: text('kafka_offset'),
  processedAt: timestamp('processed_at', { withTimezone: true }).notNull().defaultNow(),
});
