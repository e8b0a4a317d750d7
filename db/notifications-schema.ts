import { index, integer, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * The notification sender's own tables, in its own PostgreSQL schema, written only by it (consumer
 * group notification-sender): like the order history's, its state can be dropped and rebuilt by
 * replaying `checkout.events` under a new consumer group.
 */
export const notificationSender = pgSchema('notification_sender');

export const NOTIFICATION_STATUSES = ['claimed', 'sent', 'failed', 'suppressed'] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/**
 * One row per event that warrants an email, keyed by the event id. `claimed` is committed before
 * the SMTP call and `sent` right after it, so a row left `claimed` with attempts > 0 is an email
 * that may or may not have gone out (a crash between the two): it is retried with the same
 * Message-ID. `failed` is a permanent refusal by the mail server (the event went to the DLQ).
 * `suppressed`: a failure notice not sent because its recipient had FAILURE_NOTICES_PER_RECIPIENT_PER_HOUR already.
 */
export const notifications = notificationSender.table(
  'notifications',
  {
    eventId: text('event_id').primaryKey(),
    eventType: text('event_type').notNull(),
    orderId: uuid('order_id').notNull(),
    recipient: text('recipient').notNull(),
    kind: text('kind').notNull(),
    subject: text('subject'),
    messageId: text('message_id').notNull(),
    status: text('status').$type<NotificationStatus>().notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    smtpResponse: text('smtp_response'),
    claimedAt: timestamp('claimed_at', { withTimezone: true }).notNull().defaultNow(),
    lastAttemptAt: timestamp('last_attempt_at', { withTimezone: true }),
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (t) => [index('notifications_order_idx').on(t.orderId), index('notifications_status_idx').on(t.status)],
);

/**
 * Failure notices sent per recipient in the current hour (rate-limiter-flexible's Drizzle store):
 * `key` holds a hash of the address, never the address. Written only by the notification sender.
 */
export const failureNoticeThrottle = notificationSender.table('failure_notice_throttle', {
  key: text('key').primaryKey(),
  points: integer('points').notNull(),
  expire: timestamp('expire', { withTimezone: true }),
});
