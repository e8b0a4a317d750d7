import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { eq, inArray } from 'drizzle-orm';
import { Kafka, logLevel, Partitioners, type Admin, type KafkaMessage, type Message, type Producer } from 'kafkajs';
import { notifications } from '../../db/notifications-schema';
import { orderHistoryOrders, orderHistoryProcessedEvents } from '../../db/order-history-schema';
import { parseConfig, type Config } from '../../src/config';
import { readDeadLetter, type DeadLetter } from '../../src/kafka/consumer/dead-letters';
import type { EventConsumer } from '../../src/kafka/consumer/runtime';
import { connectDatabase, type DatabaseHandle } from '../../db/client';
import type { CheckoutEventDataByType, CheckoutEventType, OutcomeEvent } from '../../src/events/contract';
import { createEventPublisher, type EventPublisher } from '../../src/kafka/publisher';
import { ensureTopics } from '../../src/kafka/topics';
import { logger } from '../../src/logger';
import { createNotificationConsumer, notificationSettings } from '../../src/notifications/consumer';
import { createMailer, type Mailer } from '../../src/notifications/mailer';
import { createOrderHistoryConsumer, type ConsumerOverrides } from '../../src/read-model/consumer';
import { stackEnv } from '../support/stack-env';

/**
 * What the consumer tests share: a topic pair of their own per test file (so the events of the
 * rest of the suite never mix in and a "whole history" is exactly what the file produced), the
 * real publisher the saga uses, consumers started in-process with unique group ids, and readers
 * for the read model, the notifications table, the DLQ and MailDev's inbox.
 */

export interface ConsumerTestBed {
  name: string;
  config: Config;
  /** The service environment with this file's topics: for a harness, a child process or the CLI. */
  env: Record<string, string>;
  database: DatabaseHandle;
  publisher: EventPublisher;
  admin: Admin;
  /** A group id no other test (or run) uses. */
  groupId(label: string): string;
  startProjector(overrides?: ConsumerOverrides): Promise<EventConsumer>;
  startNotifier(overrides?: ConsumerOverrides & { smtpUrl?: string }): Promise<EventConsumer>;
  /** Raw records, for what the publisher would never produce (poison). */
  produceRaw(messages: Message[]): Promise<void>;
  deadLetters(): Promise<DeadLetter[]>;
  close(): Promise<void>;
}

export async function startConsumerTestBed(name: string): Promise<ConsumerTestBed> {
  const suffix = `${name}-${randomUUID().slice(0, 8)}`;
  const topics = { KAFKA_TOPIC: `checkout.events.test-${suffix}`, KAFKA_DLQ_TOPIC: `checkout.events.dlq.test-${suffix}` };
  const env: Record<string, string> = { ...(stackEnv() as unknown as Record<string, string>), ...topics };
  const config = parseConfig(env);
  await ensureTopics(config.KAFKA_BROKERS, { topic: config.KAFKA_TOPIC, dlqTopic: config.KAFKA_DLQ_TOPIC, partitions: config.KAFKA_TOPIC_PARTITIONS });

  const kafka = new Kafka({ clientId: `consumer-test-${suffix}`, brokers: config.KAFKA_BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const database = connectDatabase(config.DATABASE_URL, 8);
  const publisher = createEventPublisher({ brokers: config.KAFKA_BROKERS, clientId: `consumer-test-${suffix}`, topic: config.KAFKA_TOPIC });
  const connection = { brokers: config.KAFKA_BROKERS, clientId: `test-${suffix}`, topic: config.KAFKA_TOPIC, dlqTopic: config.KAFKA_DLQ_TOPIC };
  const started: EventConsumer[] = [];
  const mailers: Mailer[] = [];
  const groups: string[] = [];
  const quietLogger = logger.child({ test: name });

  const bed: ConsumerTestBed = {
    name,
    config,
    env,
    database,
    publisher,
    admin,
    groupId(label) {
      const id = `test-${label}-${suffix}-${randomUUID().slice(0, 6)}`;
      groups.push(id);
      return id;
    },
    async startProjector(overrides = {}) {
      const consumer = createOrderHistoryConsumer({ connection, db: database.db, logger: quietLogger }, { groupId: bed.groupId('projector'), ...fastRetries, ...overrides });
      started.push(consumer);
      await consumer.start();
      return consumer;
    },
    async startNotifier({ smtpUrl, ...overrides } = {}) {
      const mailer = createMailer({ smtpUrl: smtpUrl ?? config.SMTP_URL, from: config.MAIL_FROM });
      mailers.push(mailer);
      const consumer = createNotificationConsumer(
        { connection, db: database.db, mailer, logger: quietLogger, ...notificationSettings(config) },
        { groupId: bed.groupId('notifier'), ...fastRetries, ...overrides },
      );
      started.push(consumer);
      await consumer.start();
      return consumer;
    },
    async produceRaw(messages) {
      await producer.send({ topic: config.KAFKA_TOPIC, acks: -1, messages });
    },
    async deadLetters() {
      return readTopic(kafka, admin, config.KAFKA_DLQ_TOPIC, (message, partition) => readDeadLetter(message, partition));
    },
    async close() {
      await Promise.allSettled(started.map((c) => c.stop()));
      for (const m of mailers) m.close();
      await publisher.disconnect();
      await producer.disconnect();
      await admin.deleteGroups(groups).catch(() => undefined);
      await admin.deleteTopics({ topics: [config.KAFKA_TOPIC, config.KAFKA_DLQ_TOPIC] }).catch(() => undefined);
      await admin.disconnect();
      await database.close();
    },
  };
  return bed;
}

/** Tests wait for retries; production waits longer between them. */
const fastRetries: ConsumerOverrides = { retry: { initialMs: 50, maxMs: 200, transientMaxMs: 500 }, maxAttempts: 3 };

/** Every record of `topic` from its start to its end as it is now. */
export async function readTopic<T>(kafka: Kafka, admin: Admin, topic: string, map: (message: KafkaMessage, partition: number) => T): Promise<T[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const remaining = new Map(offsets.filter((p) => Number(p.high) > Number(p.low)).map((p) => [p.partition, Number(p.high) - 1]));
  if (remaining.size === 0) return [];
  const out: T[] = [];
  const groupId = `test-reader-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${topic} not read to its end in 20 s`)), 20_000);
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const last = remaining.get(partition);
          if (last === undefined || Number(message.offset) > last) return;
          out.push(map(message, partition));
          if (Number(message.offset) >= last) remaining.delete(partition);
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return out;
}

export interface OrderStory {
  orderId: string;
  checkoutId: string;
  email: string;
  /** The events of a completed checkout (and refunds), in saga order, sequences 1..n. */
  events: OutcomeEvent[];
}

/**
 * The events the saga publishes for a completed checkout of two lines (with ids as the saga makes
 * them), optionally followed by refunds as the refund workflow publishes them.
 */
export function completedOrderStory(options: { currency?: string; refunds?: number[]; name?: string; dispute?: { amount: number; outcome: 'won' | 'lost' } } = {}): OrderStory {
  const orderId = randomUUID();
  const checkoutId = randomUUID();
  const userId = randomUUID();
  const email = `story-${randomUUID().slice(0, 8)}@example.com`;
  const currency = options.currency ?? 'EUR';
  const lines = [
    { sku: 'MUG-BLUE', name: 'Blue mug', quantity: 2, unitPrice: 1250, lineTotal: 2500 },
    { sku: 'TEA-GREEN', name: 'Green tea', quantity: 1, unitPrice: 899, lineTotal: 899 },
  ];
  const amount = 3399;
  let sequence = 0;
  const base = () => ({ orderId, checkoutId, customerEmail: email, sequence: ++sequence });
  const event = <T extends CheckoutEventType>(type: T, data: Omit<CheckoutEventDataByType[T], 'orderId' | 'checkoutId' | 'customerEmail' | 'sequence'>, id = `checkout-${checkoutId}:${type}`): OutcomeEvent<T> =>
    ({ id, type, data: { ...base(), ...data } }) as OutcomeEvent<T>;
  const events: OutcomeEvent[] = [
    event('checkout.started', { items: lines.map((l) => ({ sku: l.sku, quantity: l.quantity })) }),
    event('stock.reserved', { amount, currency, lines }),
    event('payment.captured', { amount, currency, paymentIntentId: `pi_${checkoutId.slice(0, 8)}` }),
    event('user.created', { userId }),
    event('order.confirmed', { amount, currency, lines, userId, customerName: options.name ?? 'Ada Lovelace' }),
  ];
  let total = 0;
  for (const [i, refund] of (options.refunds ?? []).entries()) {
    total += refund;
    events.push(
      event(
        'payment.refunded',
        { paymentIntentId: `pi_${checkoutId.slice(0, 8)}`, refundId: `re_${i}_${orderId.slice(0, 8)}`, amount: refund, currency, totalRefunded: total, orderAmount: amount, reason: `refund ${i + 1}` },
        `refund-${orderId}-${i}:payment.refunded`,
      ),
    );
  }
  if (options.dispute) {
    const { amount: disputed, outcome } = options.dispute;
    const paymentIntentId = `pi_${checkoutId.slice(0, 8)}`;
    const disputeId = `dp_${orderId.slice(0, 8)}`;
    events.push(
      event('payment.disputed', { paymentIntentId, disputeId, amount: disputed, currency, reason: 'fraudulent', evidenceDueBy: '2026-12-21T23:59:59Z' }, `dispute-${disputeId}:payment.disputed`),
      event('payment.dispute_closed', { paymentIntentId, disputeId, amount: disputed, currency, outcome, totalReturned: total + (outcome === 'lost' ? disputed : 0), orderAmount: amount }, `dispute-${disputeId}:payment.dispute_closed`),
    );
  }
  return { orderId, checkoutId, email, events };
}

/** The events of a checkout whose card was declined, for `email`: started, then failed. */
export function failedOrderStory(email: string): OrderStory {
  const orderId = randomUUID();
  const checkoutId = randomUUID();
  const base = (sequence: number) => ({ orderId, checkoutId, customerEmail: email, sequence });
  const events: OutcomeEvent[] = [
    { id: `checkout-${checkoutId}:checkout.started`, type: 'checkout.started', data: { ...base(1), items: [{ sku: 'MUG-BLUE', quantity: 1 }] } },
    {
      id: `checkout-${checkoutId}:checkout.failed`,
      type: 'checkout.failed',
      data: { ...base(2), code: 'PAYMENT_DECLINED', message: 'Your card was declined.', step: 'capturePayment' },
    },
  ];
  return { orderId, checkoutId, email, events };
}

/** Publishes through the real publisher, one after the other, each at its own time. */
export async function publishAll(publisher: EventPublisher, events: OutcomeEvent[], start = Date.now()): Promise<void> {
  for (const e of events) await publisher.publish(e, new Date(start + e.data.sequence * 1000));
}

export async function orderRow(db: DatabaseHandle['db'], orderId: string) {
  const [row] = await db.select().from(orderHistoryOrders).where(eq(orderHistoryOrders.orderId, orderId));
  return row;
}

export async function processedEvents(db: DatabaseHandle['db'], orderIds: string[]) {
  return db.select().from(orderHistoryProcessedEvents).where(inArray(orderHistoryProcessedEvents.orderId, orderIds));
}

export async function notificationRows(db: DatabaseHandle['db'], orderIds: string[]) {
  return db.select().from(notifications).where(inArray(notifications.orderId, orderIds));
}

export interface InboxMail {
  id: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  to: Array<{ address: string }>;
}

/** MailDev's web API: every mail it holds, optionally only those to `address`. */
export async function inbox(inboxUrl: string, address?: string): Promise<InboxMail[]> {
  const res = await fetch(`${inboxUrl}/email`);
  if (res.status !== 200) throw new Error(`MailDev answered ${res.status}`);
  const mails = (await res.json()) as InboxMail[];
  return address ? mails.filter((m) => m.to.some((t) => t.address.toLowerCase() === address.toLowerCase())) : mails;
}

/** Polls `check` until it stops throwing (and returns its value), or rethrows its last error. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000, intervalMs = 150): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(intervalMs);
    }
  }
}

/** Waits `ms` and checks `check` still holds: for "nothing more happens" assertions. */
export async function stillAfter(ms: number, check: () => Promise<void>): Promise<void> {
  await sleep(ms);
  await check();
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The operator CLI as an operator runs it: the npm bin in its own process, with `env` (e.g. a bed's topics). */
export function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.resolve(__dirname, '../../bin/checkout-saga.js'), ...args], {
      cwd: path.resolve(__dirname, '../..'),
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
