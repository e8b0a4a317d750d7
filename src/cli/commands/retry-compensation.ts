import { Command } from 'commander';
import { CompensationRetryRefusedError } from '../../application/checkouts/errors';
import { retryCompensations } from '../../application/checkouts/retry-compensation';
import { checkoutRun, waitForCheckout, type CheckoutRecord } from '../../application/checkouts/status';
import { orderOfCheckout } from '../../application/refunds/find-order';
import type { CliContext } from '../context';
import { CliError, oneLine } from '../errors';
import { type Io } from '../output';
import { jsonOption, parseCheckoutReference, timeoutOption } from '../options';
import { checkoutIdFor, failingCompensations, isTerminal, renderState } from '../checkouts';

export function retryCompensationCommand(ctx: CliContext, io: Io): Command {
  return new Command('retry-compensation')
    .description('run the failed compensations of a NEEDS_ATTENTION checkout again, once their cause is fixed')
    .argument('<checkoutId>', 'the checkout id (or its workflow id checkout-<id>, or its order id)', parseCheckoutReference)
    .addOption(timeoutOption('the compensations to finish', 60))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nWaits until the checkout leaves COMPENSATING and prints where it ended. Exit 0 when every\n' +
        'compensation is done (CANCELLED or FAILED), 1 when one still fails (NEEDS_ATTENTION again) or when refused.\n\n' +
        'Examples:\n  $ checkout-saga list --status NEEDS_ATTENTION\n  $ checkout-saga retry-compensation 5d6b0c5e-2f1a-4c3e-9a51-0b7f1f0e2d11',
    )
    .action(async (rawId: string, opts: { timeout: number; json?: boolean }) => {
      const deps = await ctx.checkoutDeps();
      const checkoutId = await checkoutIdFor(deps, rawId);

      let accepted;
      try {
        ({ state: accepted } = await retryCompensations(deps, checkoutId));
      } catch (err) {
        if (err instanceof CompensationRetryRefusedError) {
          if (err.finished) throw new CliError('ALREADY_FINISHED', `checkout ${checkoutId} has already finished (${err.status ?? 'unknown'}); there is nothing to retry`);
          throw new CliError('RETRY_REFUSED', `retry refused: ${oneLine(err.refusal ?? err.detail)}`);
        }
        throw err;
      }

      // The update's answer may predate the retry round; a NEEDS_ATTENTION with a newer version is the round's verdict.
      const settled = (s: CheckoutRecord) => isTerminal(s.status) || (s.status === 'NEEDS_ATTENTION' && s.version !== undefined && s.version > accepted.version);
      const { state: final, timedOut } = await waitForCheckout(deps, checkoutId, settled, opts.timeout * 1000);
      if (opts.json) io.stdout(JSON.stringify({ ok: !timedOut && isTerminal(final.status), checkout: final }, null, 2));

      if (timedOut) {
        throw new CliError('STILL_COMPENSATING', `retry started, but checkout ${checkoutId} is still ${final.status} after ${opts.timeout} s; follow it with \`status ${checkoutId}\``);
      }
      if (final.status === 'NEEDS_ATTENTION') {
        throw new CliError('NEEDS_ATTENTION', `compensation still failing: ${failingCompensations(final)}; checkout ${checkoutId} stays in NEEDS_ATTENTION`);
      }
      if (!opts.json) {
        const order = await orderOfCheckout(deps.db, checkoutId).catch(() => undefined);
        const run = await checkoutRun(deps, checkoutId).catch(() => undefined);
        const details = renderState(final, { ...(order ? { order } : {}), ...(run ? { webUi: ctx.webUiUrl(run.workflowId, run.runId) } : {}) });
        io.stdout(`Compensations finished: checkout ${checkoutId} is ${final.status}.\n\n${details}`);
      }
    });
}
