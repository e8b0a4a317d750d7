import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { CloudEvent, Kafka as KafkaBinding } from 'cloudevents';
import { Command, InvalidArgumentError } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
// kafkajs as the service runs it: without its request queues' 1 ms spin (src/kafka/request-queue-fix.ts).
import '../../src/kafka/request-queue-fix';
import { startStack } from '../stack';
import { summarize, type Summary } from './stats';

/**
 * `npm run bench:kafka`: kafkajs against @platformatic/kafka on this project's two Kafka paths, on
 * a broker of the local stack. Each measurement runs in a child process of its own, so its CPU
 * (process.cpuUsage: every thread, user + system) is that client's alone.
 *
 * - publish: what src/kafka/publisher.ts does per outcome event: one idempotent, acks=all send of
 *   one CloudEvent (structured Kafka binding, key = order id), awaited. Once with one send at a
 *   time (an activity's latency) and once with 8 in flight (concurrent activities in one worker).
 * - consume: what src/kafka/consumer/runtime.ts does: a fresh consumer group reads the topic from
 *   the start, decodes each message and marks it done in partition order, committing once a second
 *   (kafkajs: resolveOffset + autoCommitInterval; platformatic: autocommit off, its own commit of
 *   the last done offset per partition each second, since its autocommit commits before the
 *   handler has run). A separate kafkajs producer feeds it at a steady rate; latency is send ->
 *   handler.
 *
 * Not part of `npm test`: timings are for reading, never for asserting.
 */

type Client = 'kafkajs' | 'platformatic';
const CLIENTS: Client[] = ['kafkajs', 'platformatic'];
const PARTITIONS = 3;
const WARM_UP_SENDS = 100;
const COMMIT_INTERVAL_MS = 1_000;

interface PublishResult {
  sends: number;
  inFlight: number;
  wallMs: number;
  cpuMs: number;
  latencyMs: Summary;
}

interface ConsumeResult {
  messages: number;
  wallMs: number;
  cpuMs: number;
  latencyMs: Summary;
}

/** A CloudEvent shaped like an order.confirmed outcome event, encoded as the publisher encodes it. */
function outcomeMessage(sentAt: number): { key: string; value: string; headers: Record<string, string> } {
  const orderId = randomUUID();
  const event = new CloudEvent({
    specversion: '1.0',
    id: randomUUID(),
    source: '/checkout-saga',
    type: 'order.confirmed',
    subject: orderId,
    datacontenttype: 'application/json',
    partitionkey: orderId,
    time: new Date().toISOString(),
    data: {
      orderId,
      checkoutId: randomUUID(),
      sequence: 3,
      total: { amount: 4_998, currency: 'EUR' },
      items: [{ sku: 'SKU-TEA-001', quantity: 2, unitAmount: 2_499 }],
      confirmedAt: new Date().toISOString(),
      sentAt,
    },
  });
  const message = KafkaBinding.structured(event);
  return {
    key: String(message.key),
    value: String(message.value),
    headers: Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, String(v)])),
  };
}

const now = () => performance.timeOrigin + performance.now();
// An ES module only; this file is CommonJS (tsconfig `module: node16`), so it is loaded with import().
const platformatic = () => import('@platformatic/kafka');
const cpuMsSince = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};

interface Publisher {
  send(message: ReturnType<typeof outcomeMessage>): Promise<void>;
  close(): Promise<void>;
}

async function createPublisher(client: Client, brokers: string[], topic: string): Promise<Publisher> {
  if (client === 'kafkajs') {
    // The options of src/kafka/publisher.ts.
    const kafka = new Kafka({ clientId: 'bench-kafkajs', brokers, logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 }, connectionTimeout: 3_000 });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    return {
      send: async (m) => {
        await producer.send({ topic, acks: -1, messages: [{ key: m.key, value: m.value, headers: m.headers }] });
      },
      close: () => producer.disconnect(),
    };
  }
  const { Producer, ProduceAcks, stringSerializers } = await platformatic();
  const producer = new Producer({
    clientId: 'bench-platformatic',
    bootstrapBrokers: brokers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    autocreateTopics: false,
    retries: 3,
    retryDelay: 200,
    connectTimeout: 3_000,
    serializers: stringSerializers,
  });
  return {
    send: async (m) => {
      await producer.send({ messages: [{ topic, key: m.key, value: m.value, headers: new Map(Object.entries(m.headers)) }] });
    },
    close: () => producer.close(),
  };
}

async function runPublish(client: Client, brokers: string[], topic: string, sends: number, inFlight: number): Promise<PublishResult> {
  const publisher = await createPublisher(client, brokers, topic);
  for (let i = 0; i < WARM_UP_SENDS; i++) await publisher.send(outcomeMessage(now()));
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < sends) {
        next++;
        const t0 = performance.now();
        await publisher.send(outcomeMessage(now()));
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const result = { sends, inFlight, wallMs: performance.now() - started, cpuMs: cpuMsSince(cpu), latencyMs: summarize(latencies) };
  await publisher.close();
  return result;
}

/** Decodes a record as the consumer runtime does before its handler: the CloudEvent, then the time it was sent. */
function handle(value: string): number {
  const event = JSON.parse(value) as { data?: { sentAt?: number } };
  return now() - (event.data?.sentAt ?? Number.NaN);
}

/**
 * Joins a fresh group, prints `ready` once it has its partitions, then reads `messages` records and
 * prints the result. CPU is counted from the first record to the last.
 */
async function runConsume(client: Client, brokers: string[], topic: string, messages: number): Promise<ConsumeResult> {
  const groupId = `bench-${client}-${randomUUID()}`;
  const latencies: number[] = [];
  let cpu: NodeJS.CpuUsage | undefined;
  let started = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const seen = () => {
    if (!cpu) {
      cpu = process.cpuUsage();
      started = performance.now();
    }
    if (latencies.length === messages) finish();
  };

  let close: () => Promise<void>;
  if (client === 'kafkajs') {
    const kafka = new Kafka({ clientId: groupId, brokers, logLevel: logLevel.NOTHING, retry: { initialRetryTime: 300, retries: 8 } });
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, sessionTimeout: 30_000, heartbeatInterval: 3_000, maxWaitTimeInMs: 500 });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: PARTITIONS,
      eachBatchAutoResolve: false,
      autoCommit: true,
      autoCommitInterval: COMMIT_INTERVAL_MS,
      eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, isStale }) => {
        for (const message of batch.messages) {
          if (!isRunning() || isStale()) return;
          latencies.push(handle(message.value?.toString('utf8') ?? '{}'));
          seen();
          resolveOffset(message.offset);
          await commitOffsetsIfNecessary();
          await heartbeat();
        }
      },
    });
    await joined;
    close = () => consumer.disconnect();
  } else {
    const { Consumer, MessagesStreamModes, stringDeserializers } = await platformatic();
    const consumer = new Consumer({
      groupId,
      clientId: groupId,
      bootstrapBrokers: brokers,
      autocommit: false,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxWaitTime: 500,
      deserializers: stringDeserializers,
    });
    const joined = new Promise<void>((resolve) => consumer.once('consumer:group:join', () => resolve()));
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.COMMITTED, fallbackMode: 'earliest' });
    await joined;
    const done = new Map<string, { topic: string; partition: number; offset: bigint; leaderEpoch: number }>();
    const commitTimer = setInterval(() => {
      if (!done.size) return;
      const offsets = [...done.values()];
      done.clear();
      consumer.commit({ offsets }).catch(() => undefined);
    }, COMMIT_INTERVAL_MS);
    void (async () => {
      for await (const message of stream) {
        latencies.push(handle(message.value));
        seen();
        done.set(`${message.topic}:${message.partition}`, { topic: message.topic, partition: message.partition, offset: message.offset + 1n, leaderEpoch: message.leaderEpoch });
      }
    })();
    close = async () => {
      clearInterval(commitTimer);
      await stream.close();
      await consumer.close();
    };
  }
  process.stdout.write('ready\n');
  await finished;
  const result = { messages, wallMs: performance.now() - started, cpuMs: cpu ? cpuMsSince(cpu) : Number.NaN, latencyMs: summarize(latencies) };
  await close();
  return result;
}

/** Feeds the consume measurement: `messages` sends at `rate` per second, one at a time. */
async function runFeed(brokers: string[], topic: string, messages: number, rate: number): Promise<void> {
  const publisher = await createPublisher('kafkajs', brokers, topic);
  const started = performance.now();
  for (let i = 0; i < messages; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await publisher.send(outcomeMessage(now()));
  }
  await publisher.close();
}

/** Runs this script again as a child with `args`, and returns its last stdout line parsed as JSON. */
function child(args: string[], onLine?: (line: string) => void): Promise<unknown> {
  const proc = spawn(process.execPath, ['--import', 'tsx', __filename, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = '';
  createInterface({ input: proc.stdout }).on('line', (line) => {
    last = line;
    onLine?.(line);
  });
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => (code === 0 ? resolve(last ? (JSON.parse(last) as unknown) : undefined) : reject(new Error(`child ${args.join(' ')} exited with ${String(code)}`))));
  });
}

async function createTopic(brokers: string[], topic: string): Promise<void> {
  const admin = new Kafka({ clientId: 'bench-admin', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** CPU of building the messages alone, included in every publish figure: what no client can save. */
function encodingCpuMsPer1000(count: number): number {
  for (let i = 0; i < WARM_UP_SENDS; i++) outcomeMessage(now());
  const cpu = process.cpuUsage();
  for (let i = 0; i < count; i++) outcomeMessage(now());
  return (cpuMsSince(cpu) * 1000) / count;
}

const median = (values: number[]) => summarize(values).p50;
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

async function main(): Promise<void> {
  const positiveInt = (name: string) => (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number above 0`);
    return n;
  };
  const program = new Command('bench:kafka')
    .description('kafkajs against @platformatic/kafka on the publish and consume paths, on a local broker')
    .option('--sends <n>', 'measured sends per publish run', positiveInt('--sends'), 1_000)
    .option('--messages <n>', 'messages per consume run', positiveInt('--messages'), 2_000)
    .option('--rate <n>', 'messages per second fed to the consumer', positiveInt('--rate'), 200)
    .option('--rounds <n>', 'runs of each measurement (the table shows the median)', positiveInt('--rounds'), 3)
    .option('--brokers <list>', 'an existing broker instead of a fresh local one')
    .argument('[role...]');
  program.parse();
  const opts = program.opts<{ sends: number; messages: number; rate: number; rounds: number; brokers?: string }>();
  const [role, client, topic, ...rest] = program.args;
  const brokers = opts.brokers?.split(',');
  if (role === 'publish' && brokers) {
    process.stdout.write(`${JSON.stringify(await runPublish(client as Client, brokers, topic!, opts.sends, Number(rest[0])))}\n`);
    return;
  }
  if (role === 'consume' && brokers) {
    process.stdout.write(`${JSON.stringify(await runConsume(client as Client, brokers, topic!, opts.messages))}\n`);
    return;
  }
  if (role === 'feed' && brokers) {
    await runFeed(brokers, topic!, opts.messages, opts.rate);
    return;
  }

  const stack = brokers ? undefined : await startStack({ mode: 'test', components: ['kafka'], migrate: false, env: {} });
  const kafkaBrokers = brokers ?? stack!.env.KAFKA_BROKERS.split(',');
  const common = ['--brokers', kafkaBrokers.join(','), '--sends', String(opts.sends), '--messages', String(opts.messages), '--rate', String(opts.rate)];
  const publish: Record<string, PublishResult[]> = {};
  const consume: Record<string, ConsumeResult[]> = {};
  const encoding: number[] = [];
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      // Alternate who goes first, so drift on a shared machine does not favour one client.
      const order = round % 2 ? CLIENTS : [...CLIENTS].reverse();
      for (const c of order) {
        for (const inFlight of [1, 8]) {
          const topic = `bench.publish.${c}.${round}.${inFlight}`;
          await createTopic(kafkaBrokers, topic);
          const result = (await child(['publish', c, topic, String(inFlight), ...common])) as PublishResult;
          (publish[`${c} x${inFlight}`] ??= []).push(result);
        }
        const topic = `bench.consume.${c}.${round}`;
        await createTopic(kafkaBrokers, topic);
        let feeding: Promise<unknown> | undefined;
        const result = (await child(['consume', c, topic, ...common], (line) => {
          if (line === 'ready') feeding = child(['feed', 'kafkajs', topic, ...common]);
        })) as ConsumeResult;
        await feeding;
        (consume[c] ??= []).push(result);
      }
      encoding.push(encodingCpuMsPer1000(opts.sends));
      process.stderr.write(`  round ${round} of ${opts.rounds} done\n`);
    }
  } finally {
    await stack?.stop();
  }

  const lines = [
    `Node ${process.versions.node}, ${opts.rounds} rounds (medians), broker ${stack ? 'of a fresh local stack' : kafkaBrokers.join(',')}`,
    '',
    `publish: ${opts.sends} idempotent acks=all sends of one CloudEvent each, after ${WARM_UP_SENDS} to warm up`,
    '| client | in flight | sends/s | CPU ms per 1,000 sends | latency p50 ms | latency p99 ms |',
    '|---|---|---|---|---|---|',
    ...Object.entries(publish).map(([name, runs]) => {
      const [c, x] = name.split(' x');
      return `| ${c} | ${x} | ${fmt(median(runs.map((r) => (r.sends * 1000) / r.wallMs)), 0)} | ${fmt(median(runs.map((r) => (r.cpuMs * 1000) / r.sends)), 0)} | ${fmt(median(runs.map((r) => r.latencyMs.p50)), 2)} | ${fmt(median(runs.map((r) => r.latencyMs.p99)), 2)} |`;
    }),
    `(building the CloudEvents alone, included in the CPU above: ${fmt(median(encoding), 0)} ms per 1,000)`,
    '',
    `consume: ${opts.messages} messages fed at ${opts.rate}/s, handled in partition order, commits once a second`,
    '| client | CPU ms per 1,000 messages | send -> handler p50 ms | p99 ms |',
    '|---|---|---|---|',
    ...Object.entries(consume).map(
      ([c, runs]) =>
        `| ${c} | ${fmt(median(runs.map((r) => (r.cpuMs * 1000) / r.messages)), 0)} | ${fmt(median(runs.map((r) => r.latencyMs.p50)), 2)} | ${fmt(median(runs.map((r) => r.latencyMs.p99)), 2)} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const dir = path.resolve(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `kafka-clients-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ node: process.versions.node, options: opts, encodingCpuMsPer1000: encoding, publish, consume }, null, 2));
  process.stderr.write(`results: ${path.relative(process.cwd(), file)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
