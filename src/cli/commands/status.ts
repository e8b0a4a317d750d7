import { Command } from 'commander';
import { checkoutRun, getCheckoutStatus } from '../../application/checkouts/status';
import { orderOfCheckout } from '../../application/refunds/find-order';
import { checkoutIdFor, renderState } from '../checkouts';
import type { CliContext } from '../context';
import { formatTime, type Io } from '../output';
import { jsonOption, parseCheckoutReference } from '../options';

export function statusCommand(ctx: CliContext, io: Io): Command {
  return new Command('status')
    .description("show a checkout's status, step, payment, order and compensations")
    .argument('<checkoutId>', 'the checkout id (or its workflow id checkout-<id>, or its order id)', parseCheckoutReference)
    .addOption(jsonOption())
    .addHelpText('after', '\nExamples:\n  $ checkout-saga status 5d6b0c5e-2f1a-4c3e-9a51-0b7f1f0e2d11\n  $ checkout-saga status checkout-5d6b0c5e-2f1a-4c3e-9a51-0b7f1f0e2d11 --json')
    .action(async (rawId: string, opts: { json?: boolean }) => {
      const deps = await ctx.checkoutDeps();
      const checkoutId = await checkoutIdFor(deps, rawId);
      const { state, source } = await getCheckoutStatus(deps, checkoutId);
      const run = await checkoutRun(deps, checkoutId);
      const order = await orderOfCheckout(deps.db, checkoutId);
      const webUi = run ? ctx.webUiUrl(run.workflowId, run.runId) : undefined;

      if (opts.json) {
        const workflow = run ? { id: run.workflowId, runId: run.runId, status: run.status, startTime: run.startTime, closeTime: run.closeTime } : null;
        // `query`: the workflow answered; `database`: PostgreSQL did, because no worker answered or there is no workflow.
        io.stdout(JSON.stringify({ ok: true, source: source === 'workflow' ? 'query' : 'database', checkout: state, order: order ?? null, workflow, webUi: webUi ?? null }, null, 2));
        return;
      }
      const note =
        source === 'workflow'
          ? undefined
          : run
            ? 'no worker answered the status query; shown from PostgreSQL'
            : 'its workflow was never started (Temporal was unreachable when it was submitted); shown from PostgreSQL';
      const workflow = run ? (source === 'workflow' ? `${run.workflowId} (${run.status})` : `${run.workflowId} (${run.status}, started ${formatTime(run.startTime)})`) : undefined;
      io.stdout(renderState(state, { ...(order ? { order } : {}), ...(workflow ? { workflow } : {}), ...(webUi ? { webUi } : {}), ...(note ? { note } : {}) }));
    });
}
