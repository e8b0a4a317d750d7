import { Command, Option } from 'commander';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { CliContext } from '../context';
import { CliError, oneLine } from '../errors';
import { type Io } from '../output';
import { jsonOption, parseCheckoutReference, parseReason, timeoutOption } from '../options';
import { cancelUpdate, type CheckoutState } from '../../workflows/checkout/contract';
import { failingCompensations, findCheckout, isTerminal, orderOfCheckout, renderState, statusFromSearchAttributes, waitForState } from '../checkouts';

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
      const client = await ctx.temporal();
      const { checkoutId, handle, description } = await findCheckout(client, rawId, () => ctx.db());
      if (description.status.name !== 'RUNNING') {
        const status = statusFromSearchAttributes(description) ?? description.status.name;
        throw new CliError('ALREADY_FINISHED', `checkout ${checkoutId} has already finished (${status}) and can no longer be cancelled${status === 'COMPLETED' ? '; use `refund` instead' : ''}`);
      }

      let accepted: CheckoutState;
      try {
        accepted = await client.withDeadline(Date.now() + 15_000, () =>
          handle.executeUpdate(cancelUpdate, { args: [{ ...(opts.reason ? { reason: opts.reason } : {}), requestedBy: ctx.requestedBy }] }),
        );
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) {
          throw new CliError('CANCEL_REFUSED', `cancel refused: ${oneLine(err.cause?.message ?? err.message)}`);
        }
        if (err instanceof WorkflowNotFoundError) throw new CliError('ALREADY_FINISHED', `checkout ${checkoutId} has already finished and can no longer be cancelled`);
        throw err;
      }

      if (!opts.wait) {
        if (opts.json) io.stdout(JSON.stringify({ ok: true, accepted: true, checkout: accepted }, null, 2));
        else io.stdout(`Cancel accepted for checkout ${checkoutId} (was ${accepted.status}); its compensations are running.`);
        return;
      }

      const settled = (s: CheckoutState) => isTerminal(s.status) || s.status === 'NEEDS_ATTENTION';
      const { state, timedOut } = await waitForState(client, handle, settled, opts.timeout * 1000);
      const final = state ?? accepted;
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
        const order = await orderOfCheckout(ctx.db(), checkoutId).catch(() => undefined);
        io.stdout(`${renderState(final, { ...(order ? { order } : {}), webUi: ctx.webUiUrl(description.workflowId, description.runId) })}${note}`);
      }
    });
}
