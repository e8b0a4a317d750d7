import type { Database } from '../../db/client';
import type { Logger } from '../logger';
import { CONSUMER_GROUPS } from '../kafka/consumer/groups';
import { createEventConsumer, type EventConsumer, type EventConsumerOptions } from '../kafka/consumer/runtime';
import { createOrderHistoryProjector, ORDER_HISTORY_EVENT_TYPES } from './projector';

export type ConsumerConnection = Pick<EventConsumerOptions, 'brokers' | 'clientId' | 'topic' | 'dlqTopic' | 'security'>;
/** What a test (or another deployment) may change: a group of its own, retry timings, the handler around the projector. */
export type ConsumerOverrides = Partial<Pick<EventConsumerOptions, 'groupId' | 'maxAttempts' | 'retry' | 'partitionsConsumedConcurrently' | 'sessionTimeoutMs' | 'heartbeatIntervalMs' | 'autoCommitIntervalMs'>> & {
  wrapHandler?: (handler: EventConsumerOptions['handler']) => EventConsumerOptions['handler'];
};

/** The order-history projector as a consumer of `checkout.events` in group `order-history-projector`. */
export function createOrderHistoryConsumer(deps: { connection: ConsumerConnection; db: Database; logger: Logger }, overrides: ConsumerOverrides = {}): EventConsumer {
  const { wrapHandler, ...options } = overrides;
  const handler = createOrderHistoryProjector({ db: deps.db });
  return createEventConsumer({
    ...deps.connection,
    groupId: CONSUMER_GROUPS.orderHistoryProjector,
    handles: ORDER_HISTORY_EVENT_TYPES,
    handler: wrapHandler ? wrapHandler(handler) : handler,
    logger: deps.logger.child({ component: 'order-history-projector' }),
    ...options,
  });
}
