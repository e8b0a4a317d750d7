import { Command, Option } from 'commander';
import { cancelCheckout } from '../../application/checkouts/cancel';
import { CheckoutNotCancellableError } from '../../application/checkouts/errors';
import { checkoutRun, waitForCheckout, type CheckoutRecord } from '../../application/checkouts/status';
import { orderOfCheckout } from '../../application/refunds/find-order';
import type { CliContext } from '../context';
import { CliError, oneLine } from '../errors';
import { type Io } from '../output';
import { jsonOption, parseCheckoutReference, parseReason, timeoutOption } from '../options';
import { checkoutIdFor, failingCompensations, isTerminal, renderState } from '../checkouts';

export function cancelCommand(ctx: CliContext, io: Io): Command {
  return new Command('cancel')
    .description('cancel a checkout still in progress: its compensations run and it ends CANCELLED')
    .argument('<checkoutId>', 'the checkout id (or its workflow id checkout-<id>, or its order id)', parseCheckoutReference)
    .addOption(new Option('--reason <reason>', 'why; shown to the customer and kept in the history').argParser(parseReason))
    .addOption(new Option('--no-wait', 'return once the cancel is accepted instead of waiting for the compensations'))
    .addOption(timeoutOption('the compensations to finish', 60))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nA checkout can be cancelled until its order is being confirmed; after that, use `refund`.\n' +
        'Exit 0 once it is CANCELLED (or already undone), 1 when refused or when an undo needs attention.\n\n' +
        'Examples:\n  $ checkout-saga cancel 5d6b0c5e-2f1a-4c3e-9a51-0b7f1f0e2d11 --reason "customer called"\n' +
        '  $ checkout-saga cancel 5d6b0c5e-2f1a-4c3e-9a51-0b7f1f0e2d11 --no-wait --json',
    )
    .action(async (rawId: string, opts: { reason?: string; wait: boolean; timeout: number; json?: boolean }) => {
      const deps = await ctx.checkoutDeps();
      const checkoutId = await checkoutIdFor(deps, rawId);

      let cancelled;
      try {
        cancelled = await cancelCheckout(deps, checkoutId, { ...(opts.reason ? { reason: opts.reason } : {}), requestedBy: ctx.requestedBy });
      } catch (err) {
        if (err instanceof CheckoutNotCancellableError) {
          if (err.finished) throw alreadyFinished(checkoutId, err.status);
          throw new CliError('CANCEL_REFUSED', `cancel refused: ${oneLine(err.refusal ?? err.detail)}`);
        }
        throw err;
      }
      // An operator asking to cancel a checkout that ended CANCELLED learns it did nothing.
      if (cancelled.outcome === 'already-cancelled') throw alreadyFinished(checkoutId, 'CANCELLED');
      const accepted = cancelled.state;

      if (!opts.wait) {
        if (opts.json) io.stdout(JSON.stringify({ ok: true, accepted: true, checkout: accepted }, null, 2));
        else if (cancelled.outcome === 'cancelled-before-start') io.stdout(`Cancelled checkout ${checkoutId}: its workflow had never started, so there was nothing to undo.`);
        else io.stdout(`Cancel accepted for checkout ${checkoutId} (was ${accepted.status}); its compensations are running.`);
        return;
      }

      const settled = (s: CheckoutRecord) => isTerminal(s.status) || s.status === 'NEEDS_ATTENTION';
      const { state: final, timedOut } = await waitForCheckout(deps, checkoutId, settled, opts.timeout * 1000);
      if (opts.json) io.stdout(JSON.stringify({ ok: !timedOut && (final.status === 'CANCELLED' || final.status === 'FAILED'), accepted: true, checkout: final }, null, 2));

      if (timedOut) {
        throw new CliError('STILL_COMPENSATING', `cancel accepted, but checkout ${checkoutId} is still ${final.status} after ${opts.timeout} s; follow it with \`status ${checkoutId}\``);
      }
      if (final.status === 'NEEDS_ATTENTION') {
        throw new CliError(
          'NEEDS_ATTENTION',
          `cancel accepted, but undoing failed: ${failingCompensations(final)}; fix the cause, then run \`retry-compensation ${checkoutId}\``,
        );
      }
      if (final.status === 'COMPLETED') {
        throw new CliError('CANCEL_TOO_LATE', `checkout ${checkoutId} completed before the cancel took effect; use \`refund\` instead`);
      }
      if (!opts.json) {
        const note = final.status === 'FAILED' ? `\nThe checkout failed (${final.failure?.code}) before the cancel took effect; everything it did is undone.` : '';
        const order = await orderOfCheckout(deps.db, checkoutId).catch(() => undefined);
        const run = await checkoutRun(deps, checkoutId).catch(() => undefined);
        io.stdout(`${renderState(final, { ...(order ? { order } : {}), ...(run ? { webUi: ctx.webUiUrl(run.workflowId, run.runId) } : {}) })}${note}`);
      }
    });
}

function alreadyFinished(checkoutId: string, status: string | undefined): CliError {
  return new CliError(
    'ALREADY_FINISHED',
    `checkout ${checkoutId} has already finished (${status ?? 'unknown'}) and can no longer be cancelled${status === 'COMPLETED' ? '; use `refund` instead' : ''}`,
  );
}
