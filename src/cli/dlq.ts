import { randomUUID } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { Kafka, logLevel, Partitioners, type KafkaMessage } from 'kafkajs';
import { originalRecord, readDeadLetter, type DeadLetter } from '../kafka/consumer/dead-letters';
import type { CliContext } from './context';
import { CliError, oneLine } from './errors';
import { jsonOption } from './options';
import { formatTime, table, type Io } from './output';

/**
 * `dlq list` and `dlq replay <partition:offset>`: what the consumers gave up on, and putting one
 * back. A replay republishes the original record unchanged to the outcome topic; every consumer
 * reads it again and the ones that had already processed it drop it by its CloudEvent id, so a
 * replay is safe to repeat.
 */

/** A command with subcommands: the program's settings (exit override, output) reach them too. */
class CommandGroup extends Command {
  override copyInheritedSettings(source: Command): this {
    super.copyInheritedSettings(source);
    for (const sub of this.commands) sub.copyInheritedSettings(this);
    return this;
  }
}

export function dlqCommand(ctx: CliContext, io: Io): Command {
  const dlq = new CommandGroup('dlq').description(
    'dead letters of the downstream consumers: list them, replay one (uses KAFKA_BROKERS, KAFKA_TOPIC, KAFKA_DLQ_TOPIC)',
  );

  dlq
    .command('list')
    .description('list every dead letter, oldest first per partition, with where it came from and why')
    .addOption(jsonOption())
    .addHelpText('after', '\nExamples:\n  $ checkout-saga dlq list\n  $ checkout-saga dlq list --json')
    .action(async (opts: { json?: boolean }) => {
      const { KAFKA_DLQ_TOPIC } = ctx.config;
      const letters = await readDeadLetters(ctx, () => false);
      if (opts.json) {
        io.stdout(JSON.stringify({ ok: true, topic: KAFKA_DLQ_TOPIC, deadLetters: letters }, null, 2));
        return;
      }
      if (letters.length === 0) {
        io.stdout(`${KAFKA_DLQ_TOPIC} is empty.`);
        return;
      }
      io.stdout(
        table(
          ['DEAD LETTER', 'FAILED', 'GROUP', 'KIND', 'TRIES', 'FROM', 'EVENT', 'ERROR'],
          letters.map((l) => [
            `${l.partition}:${l.offset}`,
            formatTime(l.failedAt ?? l.timestamp),
            l.consumerGroup ?? '?',
            l.errorKind ?? '?',
            String(l.attempts ?? '?'),
            l.originalTopic ? `${l.originalTopic} ${l.originalPartition ?? '?'}:${l.originalOffset ?? '?'}` : '?',
            l.eventId ? `${l.eventType ?? '?'} ${l.eventId}` : `(not an event) ${JSON.stringify(l.valuePreview.slice(0, 40))}`,
            oneLine(l.error ?? '').slice(0, 120),
          ]),
        ),
      );
      io.stdout(`\n${letters.length} dead letter${letters.length === 1 ? '' : 's'}. Replay one with: checkout-saga dlq replay <partition:offset>`);
    });

  dlq
    .command('replay')
    .description(`republish one dead letter's original record to the outcome topic (consumers that already processed it drop it)`)
    .argument('<partition:offset>', 'the dead letter, as `dlq list` shows it (e.g. 1:42)', parsePosition)
    .addOption(jsonOption())
    .addHelpText('after', '\nExamples:\n  $ checkout-saga dlq replay 1:42\n  $ checkout-saga dlq replay 0:7 --json')
    .action(async (position: { partition: number; offset: string }, opts: { json?: boolean }) => {
      const { KAFKA_TOPIC, KAFKA_DLQ_TOPIC, KAFKA_BROKERS } = ctx.config;
      let found: KafkaMessage | undefined;
      await readDeadLetters(ctx, (partition, message) => {
        if (partition === position.partition && message.offset === position.offset) found = message;
        return found !== undefined;
      });
      if (!found) throw new CliError('DEAD_LETTER_NOT_FOUND', `no dead letter at ${position.partition}:${position.offset} in ${KAFKA_DLQ_TOPIC} (see \`dlq list\`)`);
      const letter = readDeadLetter(found, position.partition);
      if (letter.originalTopic && letter.originalTopic !== KAFKA_TOPIC) {
        throw new CliError('OTHER_TOPIC', `the dead letter came from ${letter.originalTopic}, not from ${KAFKA_TOPIC} (KAFKA_TOPIC); replay it with KAFKA_TOPIC=${letter.originalTopic}`);
      }

      const producer = kafka(ctx).producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
      const [sent] = await withKafka(async () => {
        await producer.connect();
        try {
          return await producer.send({ topic: KAFKA_TOPIC, acks: -1, messages: [originalRecord(found!)] });
        } finally {
          await producer.disconnect();
        }
      }, KAFKA_BROKERS);
      const to = { topic: KAFKA_TOPIC, partition: sent?.partition ?? null, offset: sent?.baseOffset ?? null };
      if (opts.json) {
        io.stdout(JSON.stringify({ ok: true, replayed: { deadLetter: { partition: letter.partition, offset: letter.offset }, eventId: letter.eventId, eventType: letter.eventType, to } }, null, 2));
        return;
      }
      io.stdout(
        `Replayed dead letter ${letter.partition}:${letter.offset}${letter.eventId ? ` (${letter.eventType ?? 'event'} ${letter.eventId})` : ''} to ${to.topic} ${to.partition ?? '?'}:${to.offset ?? '?'}.\n` +
          'Consumers that already processed it will skip it; the dead letter itself stays in the DLQ as a record.',
      );
    });

  return dlq;
}

function parsePosition(raw: string): { partition: number; offset: string } {
  const match = /^(\d{1,6}):(\d{1,19})$/.exec(raw.trim());
  if (!match) throw new InvalidArgumentError('expected <partition>:<offset> as `dlq list` shows it, e.g. 1:42.');
  return { partition: Number(match[1]), offset: String(BigInt(match[2]!)) };
}

function kafka(ctx: CliContext): Kafka {
  const { KAFKA_BROKERS, KAFKA_CLIENT_ID } = ctx.config;
  // kafkajs' own log would interleave with the command's output; failures surface as the command's error.
  return new Kafka({ clientId: `${KAFKA_CLIENT_ID}-cli`, brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING, connectionTimeout: 3_000, retry: { retries: 2 } });
}

/** Kafka failures as one line an operator can act on. */
async function withKafka<T>(work: () => Promise<T>, brokers?: string[]): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof CliError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new CliError('KAFKA_UNAVAILABLE', `Kafka${brokers ? ` at ${brokers.join(',')}` : ''} did not answer: ${oneLine(message)}`);
  }
}

/**
 * Reads the DLQ from its earliest retained record to its end as it is now, through a throwaway
 * consumer group that commits nothing and is deleted afterwards. `stop` ends the read early.
 */
async function readDeadLetters(ctx: CliContext, stop: (partition: number, message: KafkaMessage) => boolean): Promise<DeadLetter[]> {
  const { KAFKA_DLQ_TOPIC, KAFKA_BROKERS } = ctx.config;
  const client = kafka(ctx);
  const admin = client.admin();
  return withKafka(async () => {
    await admin.connect();
    const groupId = `checkout-saga-cli-dlq-${randomUUID()}`;
    try {
      const offsets = await admin.fetchTopicOffsets(KAFKA_DLQ_TOPIC);
      const remaining = new Map(offsets.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high) - 1n]));
      if (remaining.size === 0) return [];
      const letters: DeadLetter[] = [];
      const consumer = client.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: KAFKA_DLQ_TOPIC, fromBeginning: true });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`the DLQ was not read to its end within 30 s`)), 30_000);
          const finish = () => {
            clearTimeout(timer);
            resolve();
          };
          void consumer
            .run({
              autoCommit: false,
              eachMessage: async ({ partition, message }) => {
                const last = remaining.get(partition);
                if (last === undefined || BigInt(message.offset) > last) return;
                letters.push(readDeadLetter(message, partition));
                if (stop(partition, message)) return finish();
                if (BigInt(message.offset) >= last) remaining.delete(partition);
                if (remaining.size === 0) finish();
              },
            })
            .catch(reject);
        });
      } finally {
        await consumer.disconnect();
      }
      return letters.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
    } finally {
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
    }
  }, KAFKA_BROKERS);
}
