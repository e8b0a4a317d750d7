import type { Config } from '../config';
import type { Database } from '../../db/client';
import { emailLoginTokenFor, loginUrlFor } from '../application/sign-in/tokens';
import type { Logger } from '../logger';
import { isTransientInfrastructureError } from '../kafka/consumer/failures';
import { CONSUMER_GROUPS } from '../kafka/consumer/groups';
import { createEventConsumer, type EventConsumer } from '../kafka/consumer/runtime';
import type { ConsumerConnection, ConsumerOverrides } from '../read-model/consumer';
import type { Mailer } from './mailer';
import { NOTIFIED_EVENT_TYPES, type RenderOptions } from './messages';
import { createNotificationSender, isTransientNotificationError, type NotificationSenderDeps } from './sender';

/**
 * The notification sender as a consumer of `checkout.events` in group `notification-sender`.
 * An SMTP outage is retried on the same message for as long as it lasts (the partition waits, the
 * message is never skipped and never dead-lettered for it); a permanent refusal of one message
 * (5xx about its recipient or content) is tried `maxAttempts` times, then dead-lettered.
 */
export function createNotificationConsumer(
  deps: { connection: ConsumerConnection; db: Database; mailer: Mailer; render: RenderOptions; logger: Logger; failureNotices?: NotificationSenderDeps['failureNotices'] },
  overrides: ConsumerOverrides = {},
): EventConsumer {
  const { wrapHandler, retry, ...options } = overrides;
  const handler = createNotificationSender({ db: deps.db, mailer: deps.mailer, render: deps.render, ...(deps.failureNotices ? { failureNotices: deps.failureNotices } : {}) });
  return createEventConsumer({
    ...deps.connection,
    groupId: CONSUMER_GROUPS.notificationSender,
    handles: NOTIFIED_EVENT_TYPES,
    handler: wrapHandler ? wrapHandler(handler) : handler,
    logger: deps.logger.child({ component: 'notification-sender' }),
    isTransient: (err) => isTransientNotificationError(err, isTransientInfrastructureError),
    // A mail server back after an outage is noticed within 15 s.
    retry: { initialMs: 500, maxMs: 5_000, transientMaxMs: 15_000, ...retry },
    ...options,
  });
}

/**
 * The sender's settings from the service configuration: the shop's URL, the sign-in link of an
 * existing account's receipt (derived from SSO_SECRET here, never carried by the event), and the
 * failure-notice limit.
 */
export function notificationSettings(cfg: Pick<Config, 'APP_URL' | 'SSO_SECRET' | 'FAILURE_NOTICES_PER_RECIPIENT_PER_HOUR'>): {
  render: RenderOptions;
  failureNotices: NonNullable<NotificationSenderDeps['failureNotices']>;
} {
  return {
    render: { appUrl: cfg.APP_URL, signInLink: (checkoutId) => loginUrlFor(cfg.APP_URL, emailLoginTokenFor(cfg.SSO_SECRET, checkoutId)) },
    failureNotices: { perRecipientPerHour: cfg.FAILURE_NOTICES_PER_RECIPIENT_PER_HOUR },
  };
}
