import { Command } from 'commander';
import type { CliContext } from '../context';
import { fields, formatTime, type Io } from '../output';
import { jsonOption, parseCheckoutReference } from '../options';
import { searchAttributes } from '../../workflows/checkout/contract';
import { findCheckout, money, orderOfCheckout, queryState, renderState, statusFromSearchAttributes, type OrderSummary } from '../checkouts';

export function statusCommand(ctx: CliContext, io: Io): Command {
  return new Command('status')
    .description("show a checkout's status, step, payment, order and compensations")
    .argument('<checkoutId>', 'the checkout id (or its workflow id checkout-<id>, or its order id)', parseCheckoutReference)
    .addOption(jsonOption())
    .addHelpText('after', '\nExamples:\n  $ checkout-saga status 5d6b0c5e-2f1a-4c3e-9a51-0b7f1f0e2d11\n  $ checkout-saga status checkout-5d6b0c5e-2f1a-4c3e-9a51-0b7f1f0e2d11 --json')
    .action(async (rawId: string, opts: { json?: boolean }) => {
      const client = await ctx.temporal();
      const { checkoutId, handle, description } = await findCheckout(client, rawId, () => ctx.db());
      const workflow = { id: description.workflowId, runId: description.runId, status: description.status.name, startTime: description.startTime, closeTime: description.closeTime ?? null };
      const webUi = ctx.webUiUrl(description.workflowId, description.runId);
      const order = await orderOfCheckout(ctx.db(), checkoutId).catch(() => undefined);

      let state;
      try {
        state = await queryState(client, handle);
      } catch {
        // No worker answered: the search attributes still say where the checkout stands.
        const fallback = {
          checkoutId,
          status: statusFromSearchAttributes(description) ?? 'UNKNOWN',
          step: description.typedSearchAttributes.get(searchAttributes.step) ?? null,
          customerEmail: description.typedSearchAttributes.get(searchAttributes.customerEmail) ?? null,
          orderTotal: description.typedSearchAttributes.get(searchAttributes.orderTotal) ?? null,
        };
        if (opts.json) {
          io.stdout(JSON.stringify({ ok: true, source: 'search-attributes', checkout: fallback, order: order ?? null, workflow, webUi }, null, 2));
          return;
        }
        io.stdout(
          fields([
            ['Checkout', checkoutId],
            ['Status', `${fallback.status}${fallback.step && fallback.step !== 'none' ? ` (step ${fallback.step})` : ''}`],
            ['Customer', fallback.customerEmail],
            ['Amount', order ? money(order.amountMinor, order.currency) : money(fallback.orderTotal, null)],
            ['Order', order ? orderLine(order) : undefined],
            ['Workflow', `${workflow.id} (${workflow.status}, started ${formatTime(workflow.startTime)})`],
            ['Web UI', webUi],
            ['Note', 'no worker answered the status query; shown from the search attributes'],
          ]),
        );
        return;
      }

      if (opts.json) {
        io.stdout(JSON.stringify({ ok: true, source: 'query', checkout: state, order: order ?? null, workflow, webUi }, null, 2));
        return;
      }
      io.stdout(renderState(state, { ...(order ? { order } : {}), workflow: `${workflow.id} (${workflow.status})`, webUi }));
    });
}

function orderLine(order: OrderSummary): string {
  return `${order.id}  ${order.status}`;
}
