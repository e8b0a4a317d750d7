import { progress } from '../stack/progress';
import { shellExports, startStack, StackError, type StackMode } from '../stack';
import { runUntilSignalled, stopOnSignals } from '../stack/shutdown';

/**
 * `npm run stack [-- --test]`: only the local stack, for running the API or worker yourself
 * (debugger, watch mode). Prints `export VAR=...` lines on stdout; Ctrl-C stops everything.
 */
async function main(): Promise<void> {
  const mode: StackMode = process.argv.includes('--test') ? 'test' : 'dev';
  const stack = await startStack({ mode, stripeWebhookUrl: webhookUrl() });
  stopOnSignals(() => stack.stop());
  process.stdout.write(`${shellExports(stack.env)}\n`);
  progress.line('\nThe stack runs until Ctrl-C. Paste the lines above into another shell to use it.');
  runUntilSignalled();
}

function webhookUrl(): string {
  return `${(process.env.APP_URL ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`).replace(/\/$/, '')}/webhooks/stripe`;
}

main().catch((err: unknown) => {
  progress.line(err instanceof StackError ? `✗ ${err.message}` : `✗ ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
