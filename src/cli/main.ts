import { Command, CommanderError } from 'commander';
import { CliContext } from './context';
import { CliError, toCliError } from './errors';
import { processIo, terminalSafe, type Io } from './output';
import { cancelCommand } from './commands/cancel';
import { listCommand } from './commands/list';
import { refundCommand } from './commands/refund';
import { retryCompensationCommand } from './commands/retry-compensation';
import { statusCommand } from './commands/status';
import { dlqCommand } from './commands/dlq';

/** Exit codes: the contract scripts and runbooks rely on. */
export const EXIT = { ok: 0, refused: 1, usage: 2 } as const;

export function buildProgram(ctx: CliContext, io: Io): Command {
  const program = new Command('checkout-saga')
    .description('Operate checkouts: find them, cancel them, refund them, finish their compensations.')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
    })
    .showHelpAfterError('(add --help for usage and examples)')
    .addHelpText(
      'after',
      `
Exit codes: 0 done, 1 refused or failed (one-line reason on stderr), 2 usage error.
Connects with the service's environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE,
DATABASE_URL, TEMPORAL_UI_URL).

Examples:
  $ checkout-saga list --status NEEDS_ATTENTION
  $ checkout-saga status 5d6b0c5e-2f1a-4c3e-9a51-0b7f1f0e2d11
  $ checkout-saga cancel 5d6b0c5e-2f1a-4c3e-9a51-0b7f1f0e2d11 --reason "customer called"
  $ checkout-saga refund 9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d --amount 500 --reason "damaged item"
  $ checkout-saga retry-compensation 5d6b0c5e-2f1a-4c3e-9a51-0b7f1f0e2d11
  $ npm run cli -- list --email ana@example.com --json`,
    );

  for (const command of [statusCommand, listCommand, cancelCommand, refundCommand, retryCompensationCommand, dlqCommand]) {
    // addCommand does not copy the program's settings: without this a subcommand's usage error would exit by itself.
    program.addCommand(command(ctx, io).copyInheritedSettings(program));
  }
  return program;
}

/** Runs one command and returns its exit code; never calls process.exit, so it is testable and flushes. */
export async function main(argv: string[] = process.argv, terminal: Io = processIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const io = terminalSafe(terminal);
  const ctx = new CliContext(env);
  const program = buildProgram(ctx, io);
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed the message (or the help) through configureOutput.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    }
    const failure = err instanceof CliError ? err : toCliError(err, { temporalAddress: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
    io.stderr(`error: ${failure.message}`);
    if (argv.includes('--json')) io.stdout(JSON.stringify({ ok: false, error: { code: failure.code, message: failure.message } }));
    return EXIT.refused;
  } finally {
    await ctx.close();
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
    // Everything is closed by now; this only guards against a stray handle keeping an operator's shell waiting.
    setTimeout(() => process.exit(code), 2_000).unref();
  });
}
