import { Command, InvalidArgumentError } from 'commander';
import { DeadLetterNotFoundError, DeadLetterOfAnotherTopicError } from '../../application/dead-letters/errors';
import { listDeadLetters } from '../../application/dead-letters/list';
import { replayDeadLetter, type DeadLetterPosition } from '../../application/dead-letters/replay';
import { ServiceUnavailableError } from '../../application/errors';
import type { CliContext } from '../context';
import { CliError, oneLine } from '../errors';
import { jsonOption } from '../options';
import { formatTime, table, type Io } from '../output';

/**
 * `dlq list` and `dlq replay <partition:offset>`: what the consumers gave up on, and putting one
 * back (application/dead-letters). A replay is safe to repeat: consumers that already processed
 * the record drop it by its CloudEvent id.
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
      const { topic, deadLetters: letters } = await kafkaFailuresSaid(ctx, () => listDeadLetters(ctx.deadLetterDeps()));
      if (opts.json) {
        io.stdout(JSON.stringify({ ok: true, topic, deadLetters: letters }, null, 2));
        return;
      }
      if (letters.length === 0) {
        io.stdout(`${topic} is empty.`);
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
    .action(async (position: DeadLetterPosition, opts: { json?: boolean }) => {
      const { KAFKA_TOPIC } = ctx.config;
      let replayed;
      try {
        replayed = await kafkaFailuresSaid(ctx, () => replayDeadLetter(ctx.deadLetterDeps(), position));
      } catch (err) {
        if (err instanceof DeadLetterNotFoundError) throw new CliError('DEAD_LETTER_NOT_FOUND', `no dead letter at ${err.partition}:${err.offset} in ${err.topic} (see \`dlq list\`)`);
        if (err instanceof DeadLetterOfAnotherTopicError) {
          throw new CliError('OTHER_TOPIC', `the dead letter came from ${err.originalTopic}, not from ${KAFKA_TOPIC} (KAFKA_TOPIC); replay it with KAFKA_TOPIC=${err.originalTopic}`);
        }
        throw err;
      }
      const { deadLetter: letter, to } = replayed;
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

function parsePosition(raw: string): DeadLetterPosition {
  const match = /^(\d{1,6}):(\d{1,19})$/.exec(raw.trim());
  if (!match) throw new InvalidArgumentError('expected <partition>:<offset> as `dlq list` shows it, e.g. 1:42.');
  return { partition: Number(match[1]), offset: String(BigInt(match[2]!)) };
}

/** Kafka not answering, as one line an operator can act on. */
async function kafkaFailuresSaid<T>(ctx: CliContext, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ServiceUnavailableError && err.dependency === 'kafka') {
      const cause = err.cause instanceof Error ? err.cause.message : String(err.cause);
      throw new CliError('KAFKA_UNAVAILABLE', `Kafka at ${ctx.config.KAFKA_BROKERS.join(',')} did not answer: ${oneLine(cause)}`);
    }
    throw err;
  }
}
