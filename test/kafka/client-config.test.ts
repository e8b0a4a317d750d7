import { ConfigError, parseConfig } from '../../src/config';
import { ALL_CONSUMER_GROUPS } from '../../src/kafka/consumer/groups';
import { kafkaClientOptions } from '../../src/kafka/client-config';

/**
 * How a process reaches Kafka: plain, as the local stack runs it, or as a SASL principal (optionally
 * over TLS), as docker-compose.yml runs every service. The rules are pure: no broker needed here.
 */

/** The one-line problems parseConfig reports, or [] when the environment is accepted. */
function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    parseConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('Kafka client settings', () => {
  it('connects without SASL or TLS when neither is configured, as the local stack runs', () => {
    const options = kafkaClientOptions(parseConfig({ KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9092', KAFKA_CLIENT_ID: 'shop' }), 'api');
    expect(options).toEqual({ brokers: ['kafka-1:9092', 'kafka-2:9092'], clientId: 'shop-api', ssl: false });
    expect(options).not.toHaveProperty('sasl');
  });

  it('names the process in the client id only when asked, so the broker can tell the processes apart', () => {
    expect(kafkaClientOptions(parseConfig({})).clientId).toBe('checkout-saga');
    expect(kafkaClientOptions(parseConfig({}), 'worker').clientId).toBe('checkout-saga-worker');
  });

  it('authenticates as the configured SCRAM principal, over TLS when KAFKA_SSL is on', () => {
    const cfg = parseConfig({
      KAFKA_BROKERS: 'kafka:19092',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'checkout-worker',
      KAFKA_SASL_PASSWORD: 'a-long-random-password',
      KAFKA_SSL: 'true',
    });
    expect(kafkaClientOptions(cfg, 'worker')).toEqual({
      brokers: ['kafka:19092'],
      clientId: 'checkout-saga-worker',
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'checkout-worker', password: 'a-long-random-password' },
    });
  });

  it.each([
    ['scram-sha-256', 'scram-sha-256'],
    ['SCRAM-SHA-512', 'scram-sha-512'],
    [' plain ', 'plain'],
  ])('accepts the mechanism %j as Kafka or kafkajs spells it', (given, mechanism) => {
    const cfg = parseConfig({ KAFKA_SASL_MECHANISM: given, KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' });
    expect(kafkaClientOptions(cfg).sasl).toEqual({ mechanism, username: 'u', password: 'p' });
  });

  it('treats an empty KAFKA_SASL_MECHANISM (a blank line in an env file) as no SASL', () => {
    const cfg = parseConfig({ KAFKA_SASL_MECHANISM: '', KAFKA_SASL_USERNAME: '', KAFKA_SASL_PASSWORD: '' });
    expect(kafkaClientOptions(cfg)).not.toHaveProperty('sasl');
  });

  it('refuses a mechanism the client cannot speak, listing the ones it can', () => {
    expect(problems({ KAFKA_SASL_MECHANISM: 'GSSAPI', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })).toEqual([
      'KAFKA_SASL_MECHANISM: must be scram-sha-512, scram-sha-256 or plain (unset: no SASL)',
    ]);
  });

  it('asks for the username and for the password of a mechanism, each in a line of its own', () => {
    expect(problems({ KAFKA_SASL_MECHANISM: 'scram-sha-512' })).toEqual([
      'KAFKA_SASL_USERNAME: is required with KAFKA_SASL_MECHANISM (the principal the service authenticates as)',
      'KAFKA_SASL_PASSWORD: is required with KAFKA_SASL_MECHANISM (the principal the service authenticates as)',
    ]);
    expect(problems({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'checkout-api' })).toEqual([
      'KAFKA_SASL_PASSWORD: is required with KAFKA_SASL_MECHANISM (the principal the service authenticates as)',
    ]);
  });

  it('refuses credentials without a mechanism rather than connecting unauthenticated and ignoring them', () => {
    expect(problems({ KAFKA_SASL_USERNAME: 'checkout-api', KAFKA_SASL_PASSWORD: 'p' })).toEqual([
      'KAFKA_SASL_USERNAME: is set but KAFKA_SASL_MECHANISM is not: set the mechanism (scram-sha-512, scram-sha-256 or plain) or remove the credentials',
      'KAFKA_SASL_PASSWORD: is set but KAFKA_SASL_MECHANISM is not: set the mechanism (scram-sha-512, scram-sha-256 or plain) or remove the credentials',
    ]);
  });

  it('never shows the password in a refusal', () => {
    const found = problems({ KAFKA_SASL_MECHANISM: 'kerberos', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'do-not-print-me' });
    expect(found).toHaveLength(1);
    expect(found.join('\n')).not.toContain('do-not-print-me');
  });

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['FALSE', false],
    ['0', false],
    ['no', false],
  ])('reads KAFKA_SSL=%j as %j', (given, ssl) => {
    expect(kafkaClientOptions(parseConfig({ KAFKA_SSL: given })).ssl).toBe(ssl);
  });

  it('refuses a KAFKA_SSL that is neither yes nor no instead of guessing', () => {
    expect(problems({ KAFKA_SSL: 'enabled' })).toEqual(['KAFKA_SSL: must be true or false (also 1/0, yes/no)']);
  });
});

describe('which consumers a consumers process runs (CONSUMER_GROUPS)', () => {
  it('runs every consumer by default, as `npm start` does', () => {
    expect(parseConfig({}).CONSUMER_GROUPS).toEqual([...ALL_CONSUMER_GROUPS]);
  });

  it('runs only the named ones, so each can run as its own Kafka principal', () => {
    expect(parseConfig({ CONSUMER_GROUPS: 'notification-sender' }).CONSUMER_GROUPS).toEqual(['notification-sender']);
    expect(parseConfig({ CONSUMER_GROUPS: ' notification-sender , order-history-projector ' }).CONSUMER_GROUPS).toEqual([
      'notification-sender',
      'order-history-projector',
    ]);
  });

  it('refuses a group no consumer of this service joins, naming the ones it knows', () => {
    expect(problems({ CONSUMER_GROUPS: 'order-history' })).toEqual([
      'CONSUMER_GROUPS: order-history is not a consumer of this service (order-history-projector, notification-sender)',
    ]);
  });

  it('refuses an empty list and a group named twice', () => {
    expect(problems({ CONSUMER_GROUPS: ' , ' })).toEqual(['CONSUMER_GROUPS: must name at least one consumer group (order-history-projector, notification-sender)']);
    expect(problems({ CONSUMER_GROUPS: 'notification-sender,notification-sender' })).toEqual(['CONSUMER_GROUPS: notification-sender is named twice']);
  });
});
