import { createHash } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { RateLimiterDrizzle, RateLimiterRes } from 'rate-limiter-flexible';
import { failureNoticeThrottle, notifications } from '../../db/notifications-schema';
import type { EventHandler } from '../kafka/consumer/runtime';
import type { Database } from '../../db/client';
import { isTransientSmtpError, messageIdFor, type Mailer } from './mailer';
import { renderNotification, type RenderOptions } from './messages';

/**
 * The notification sender's handler: at most one email per event id, recorded in PostgreSQL.
 *
 * 1. Claim: insert the event's row (`claimed`) if it is not there yet.
 * 2. Take a transaction-scoped advisory lock on the event id, so two senders (a consumer that lost
 *    its partition but has not noticed yet, and its successor) never send the same email at once.
 *    The lock dies with the connection, so a crashed sender never holds it.
 * 3. Under the lock, re-read the row: `sent` means a redelivery, done. Otherwise count the attempt
 *    (committed at once, before the SMTP call), send with the deterministic Message-ID, mark `sent`.
 *
 * The one window left is between the server's 250 and the `sent` mark (a crash or a database
 * failure right then, or a connection lost after the server accepted the message but before its
 * answer arrived): the row stays `claimed` with an attempt counted and no error, the event is
 * redelivered, and the email goes out again with the same Message-ID, which dedupe-aware mailboxes
 * fold into one. That retry is logged as a possible duplicate.
 *
 * Failure notices are throttled per recipient: anyone can start checkouts in someone else's name
 * and let them fail, and the service must not become a way to fill a stranger's inbox. Past the
 * hourly limit a notice is recorded `suppressed` and not sent (the buyer saw the failure on the
 * page anyway). Receipts and refund confirmations are never throttled: they follow real money.
 */

export interface NotificationSenderDeps {
  db: Database;
  mailer: Mailer;
  render: RenderOptions;
  /** FAILURE_NOTICES_PER_RECIPIENT_PER_HOUR (0 or absent: no limit); `sweepExpired` in one process per database. */
  failureNotices?: { perRecipientPerHour: number; sweepExpired?: boolean };
}

/** Distinguishes our advisory locks from anyone else's (the two-key form has its own key space). */
const NOTIFICATION_LOCK_CLASS = 7260313;

/** An SMTP failure, marked with whether waiting will help (the runtime's retry policy reads it). */
export class SmtpSendError extends Error {
  constructor(
    readonly transient: boolean,
    smtpError: unknown,
  ) {
    super(smtpError instanceof Error ? smtpError.message : String(smtpError), { cause: smtpError });
    this.name = 'SmtpSendError';
  }
}

export function createNotificationSender({ db, mailer, render, failureNotices }: NotificationSenderDeps): EventHandler {
  const mayNotifyFailure = failureNoticeAllowance(db, failureNotices);
  return async (event, ctx) => {
    const email = renderNotification(event, render);
    if (!email) return 'not-notified';
    const messageId = messageIdFor(event.id);
    const byEvent = eq(notifications.eventId, event.id);

    if (email.kind === 'failure-notice' && mayNotifyFailure) {
      // Decided once per event: a redelivery finds its row and is not counted again.
      const [known] = await db.select({ status: notifications.status }).from(notifications).where(byEvent);
      if (!known && !(await mayNotifyFailure(email.to))) {
        await db
          .insert(notifications)
          .values({ eventId: event.id, eventType: event.type, orderId: event.data.orderId, recipient: email.to, kind: email.kind, subject: email.subject, messageId, status: 'suppressed' })
          .onConflictDoNothing();
        ctx.logger.info({ orderId: event.data.orderId }, 'failure notice not sent: its recipient already had the hourly limit of them');
        return 'suppressed';
      }
    }

    await db
      .insert(notifications)
      .values({ eventId: event.id, eventType: event.type, orderId: event.data.orderId, recipient: email.to, kind: email.kind, subject: email.subject, messageId, status: 'claimed' })
      .onConflictDoNothing();

    return db.transaction(async (lock) => {
      await lock.execute(sql`select pg_advisory_xact_lock(${NOTIFICATION_LOCK_CLASS}, hashtext(${event.id}))`);

      // Outside the lock's transaction from here on: each write must be durable the moment it is
      // made, whatever happens to the SMTP call that follows. The lock keeps other senders out.
      const [row] = await db.select().from(notifications).where(byEvent);
      if (!row || row.status === 'sent' || row.status === 'suppressed') return 'duplicate';
      if (row.attempts > 0 && row.lastError === null) {
        ctx.logger.warn({ messageId, attempts: row.attempts }, 'an earlier send of this email was cut off after it started and may have been delivered; resending with the same Message-ID');
      }
      await db.update(notifications).set({ attempts: row.attempts + 1, lastAttemptAt: new Date(), lastError: null }).where(byEvent);

      let response: string;
      try {
        ({ response } = await mailer.send({ ...email, messageId }));
      } catch (err) {
        const transient = isTransientSmtpError(err);
        await db
          .update(notifications)
          .set({ lastError: (err instanceof Error ? err.message : String(err)).slice(0, 1_000), ...(transient ? {} : { status: 'failed' as const }) })
          .where(byEvent);
        throw new SmtpSendError(transient, err);
      }
      await db.update(notifications).set({ status: 'sent', sentAt: new Date(), lastError: null, smtpResponse: response.slice(0, 500) }).where(byEvent);
      return 'sent';
    });
  };
}

/**
 * Counts failure notices per recipient in PostgreSQL (rate-limiter-flexible, table
 * notification_sender.failure_notice_throttle, keyed by a hash of the address), so every sender
 * process shares the count. Resolves false when the recipient is over the limit.
 */
function failureNoticeAllowance(db: Database, limit: NotificationSenderDeps['failureNotices']): ((recipient: string) => Promise<boolean>) | undefined {
  if (!limit || limit.perRecipientPerHour === 0) return undefined;
  const limiter = new RateLimiterDrizzle({
    storeClient: db,
    schema: failureNoticeThrottle,
    keyPrefix: 'failure-notice',
    points: limit.perRecipientPerHour,
    duration: 3600,
    clearExpiredByTimeout: limit.sweepExpired ?? false,
  });
  return async (recipient) => {
    try {
      await limiter.consume(createHash('sha256').update(recipient.toLowerCase()).digest('hex'));
      return true;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return false;
      // PostgreSQL is down: the consumer waits it out and tries this message again.
      throw rejection;
    }
  };
}

/** The sender's retry policy: SMTP per isTransientSmtpError, everything else like any consumer. */
export function isTransientNotificationError(err: unknown, fallback: (err: unknown) => boolean): boolean {
  return err instanceof SmtpSendError ? err.transient : fallback(err);
}
