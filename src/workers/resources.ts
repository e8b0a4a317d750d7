import { kafkaSecurity } from '../kafka/client-config';
import { connectDatabase, type DatabaseHandle } from '../../db/client';
import type { Config } from '../config';
import { createEventPublisher, type EventPublisher } from '../kafka/publisher';
import { createStripeClient } from '../stripe/client';
import type { ActivityDeps } from '../activities';
import { customerEmailHash } from '../temporal/customer-email-hash';

export interface WorkerResources {
  deps: ActivityDeps;
  database: DatabaseHandle;
  events: EventPublisher;
  close(): Promise<void>;
}

/** The worker process's I/O clients: built once, handed to the activity factories, closed on shutdown. */
export function createWorkerResources(config: Config): WorkerResources {
  const database = connectDatabase(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  const events = createEventPublisher({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-worker`, topic: config.KAFKA_TOPIC, security: kafkaSecurity(config) });
  const deps: ActivityDeps = {
    db: database.db,
    stripe: createStripeClient(config),
    events,
    sso: { secret: config.SSO_SECRET, ttlSeconds: config.SSO_TOKEN_TTL_SECONDS, emailTtlSeconds: config.SSO_EMAIL_LINK_TTL_SECONDS },
    appUrl: config.APP_URL,
    customerEmailHash: (email) => customerEmailHash(config, email),
  };
  return {
    deps,
    database,
    events,
    async close() {
      await Promise.allSettled([events.disconnect(), database.close()]);
    },
  };
}
