import { eq, sql } from 'drizzle-orm';
import { notifications } from '../../db/read-model-schema';
import type { EventHandler } from '../consumers/runtime';
import type { Database } from '../db/client';
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
 */

export interface NotificationSenderDeps {
  db: Database;
  mailer: Mailer;
  render: RenderOptions;
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

export function createNotificationSender({ db, mailer, render }: NotificationSenderDeps): EventHandler {
  return async (event, ctx) => {
    const email = renderNotification(event, render);
    if (!email) return 'not-notified';
    const messageId = messageIdFor(event.id);
    const byEvent = eq(notifications.eventId, event.id);

    await db
      .insert(notifications)
      .values({ eventId: event.id, eventType: event.type, orderId: event.data.orderId, recipient: email.to, kind: email.kind, subject: email.subject, messageId, status: 'claimed' })
      .onConflictDoNothing();

    return db.transaction(async (lock) => {
      await lock.execute(sql`select pg_advisory_xact_lock(${NOTIFICATION_LOCK_CLASS}, hashtext(${event.id}))`);

      // Outside the lock's transaction from here on: each write must be durable the moment it is
      // made, whatever happens to the SMTP call that follows. The lock keeps other senders out.
      const [row] = await db.select().from(notifications).where(byEvent);
      if (!row || row.status === 'sent') return 'duplicate';
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

/** The sender's retry policy: SMTP per isTransientSmtpError, everything else like any consumer. */
export function isTransientNotificationError(err: unknown, fallback: (err: unknown) => boolean): boolean {
  return err instanceof SmtpSendError ? err.transient : fallback(err);
}
