/**
 * The consumer groups of this service's downstream consumers: spelled once here, because the API's
 * readiness check and lag metrics must name exactly the groups the consumers process joins. A new
 * consumer gets a new group (and its own entry), never a share of an existing one.
 */
export const CONSUMER_GROUPS = {
  orderHistoryProjector: 'order-history-projector',
  notificationSender: 'notification-sender',
} as const;

export type ConsumerGroupId = (typeof CONSUMER_GROUPS)[keyof typeof CONSUMER_GROUPS];
export const ALL_CONSUMER_GROUPS: readonly ConsumerGroupId[] = Object.values(CONSUMER_GROUPS);
