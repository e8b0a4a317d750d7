import type { SASLOptions } from 'kafkajs';
import type { Config } from '../config';
// Before any client connects: kafkajs' request queues otherwise spin a 1 ms timer each (see the module).
import './request-queue-fix';

/** The part of the configuration that says how to reach and authenticate to the brokers. */
export type KafkaConnectionConfig = Pick<Config, 'KAFKA_BROKERS' | 'KAFKA_CLIENT_ID' | 'KAFKA_SASL_MECHANISM' | 'KAFKA_SASL_USERNAME' | 'KAFKA_SASL_PASSWORD' | 'KAFKA_SSL'>;

/** Spread into `new Kafka({ ...kafkaClientOptions(cfg, 'api'), retry, logLevel })`. */
export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  ssl: boolean;
  sasl?: SASLOptions;
}

/**
 * What every `new Kafka({ ... })` of the service starts from: the brokers, the client id, and the
 * SASL principal and TLS of the process, so no client of it (publisher, consumers, dead-letter
 * producer, API admin, CLI, topic check) can connect otherwise than configured. `role` is appended
 * to the client id (`checkout-saga-api`) so the broker's logs and quotas tell the processes apart.
 * Timeouts, retries and log levels stay with each caller: they differ by what the client is for.
 */
export function kafkaClientOptions(cfg: KafkaConnectionConfig, role?: string): KafkaClientOptions {
  return {
    brokers: [...cfg.KAFKA_BROKERS],
    clientId: role ? `${cfg.KAFKA_CLIENT_ID}-${role}` : cfg.KAFKA_CLIENT_ID,
    ...kafkaSecurity(cfg),
  };
}

/** How this process authenticates to the brokers: for clients whose brokers and id come from elsewhere. */
export type KafkaSecurity = Pick<KafkaClientOptions, 'ssl' | 'sasl'>;

export function kafkaSecurity(cfg: Pick<KafkaConnectionConfig, 'KAFKA_SASL_MECHANISM' | 'KAFKA_SASL_USERNAME' | 'KAFKA_SASL_PASSWORD' | 'KAFKA_SSL'>): KafkaSecurity {
  const sasl = saslOptions(cfg);
  return { ssl: cfg.KAFKA_SSL, ...(sasl ? { sasl } : {}) };
}

function saslOptions(cfg: Pick<KafkaConnectionConfig, 'KAFKA_SASL_MECHANISM' | 'KAFKA_SASL_USERNAME' | 'KAFKA_SASL_PASSWORD'>): SASLOptions | undefined {
  const { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = cfg;
  if (!mechanism) return undefined;
  // parseConfig refuses a mechanism without both; a hand-built config must not connect anonymously instead.
  if (!username || !password) throw new Error('KAFKA_SASL_MECHANISM is set without KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
  return { mechanism, username, password };
}
