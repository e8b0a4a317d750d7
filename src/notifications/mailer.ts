import nodemailer from 'nodemailer';
import { isTransientInfrastructureError } from '../kafka/consumer/failures';

/**
 * Mail out through nodemailer over SMTP (`SMTP_URL`). One connection per message: a mail server
 * that went away and came back needs no pool to heal, and at this volume the handshake is cheap.
 */

export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Deterministic per event (`<...@checkout-saga>`), so a resend after a crash is recognisably the same mail. */
  messageId: string;
}

export interface Mailer {
  /** Resolves once the server accepted the message (250 after DATA); returns the server's answer. */
  send(email: OutgoingEmail): Promise<{ response: string }>;
  close(): void;
}

export function createMailer(options: { smtpUrl: string; from: string }): Mailer {
  const transport = nodemailer.createTransport({
    url: options.smtpUrl,
    // Short enough that a dead server is noticed within a heartbeat-safe slice of the consumer's time.
    // (Transport options beside `url`: a second argument would be message defaults, not these.)
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async send(email) {
      const info = await transport.sendMail({ from: options.from, to: email.to, subject: email.subject, text: email.text, html: email.html, messageId: email.messageId });
      return { response: String(info.response ?? '') };
    },
    close() {
      transport.close();
    },
  };
}

/**
 * `<event-id@checkout-saga>`: the event id, with characters that RFC 5322 does not allow in a
 * message id (`:` among them) percent-encoded, so the mapping stays one-to-one and readable.
 */
export function messageIdFor(eventId: string): string {
  const encoded = eventId
    .replace(/[^A-Za-z0-9!#$&'*+\-/=?^_`{|}~.]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
    // A dot may not start or end the id, nor follow another dot.
    .replace(/^\.|\.$|\.(?=\.)/g, '%2E');
  return `<${encoded}@checkout-saga>`;
}

/**
 * Transient: the server or the network is down or busy (no answer, 4xx, authentication that will
 * work once fixed), so the message waits, however long. Permanent: the server answered 5xx about
 * this very message or its recipient; retrying the same message will not change that.
 */
export function isTransientSmtpError(err: unknown): boolean {
  const e = err as { code?: unknown; responseCode?: unknown };
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  if (responseCode !== undefined && responseCode >= 500 && (e.code === 'EENVELOPE' || e.code === 'EMESSAGE')) return false;
  if (responseCode !== undefined && responseCode >= 400) return true;
  if (typeof e.code === 'string' && ['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'EAUTH', 'ETLS', 'EPROTOCOL'].includes(e.code)) return true;
  return isTransientInfrastructureError(err);
}
