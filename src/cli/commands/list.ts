import { Command, Option } from 'commander';
import { inArray } from 'drizzle-orm';
import { checkouts } from '../../../db/schema';
import type { CliContext } from '../context';
import { formatTime, table, type Io } from '../output';
import { jsonOption, parseEmail, parseStatus, positiveInteger } from '../options';
import { formatMoney } from '../../money';
import {
  CHECKOUT_STATUSES,
  CHECKOUT_WORKFLOW_TYPE,
  checkoutIdFromWorkflowId,
  searchAttributes,
  type CheckoutStatus,
} from '../../workflows/checkout/contract';

export interface ListFilters {
  status?: CheckoutStatus;
  email?: string;
}

/** The visibility query the Web UI would run for the same filters, so an operator can paste it there. */
export function checkoutListQuery(filters: ListFilters): string {
  return [
    `WorkflowType = "${CHECKOUT_WORKFLOW_TYPE}"`,
    ...(filters.status ? [`${searchAttributes.status.name} = "${filters.status}"`] : []),
    ...(filters.email ? [`${searchAttributes.customerEmail.name} = "${filters.email}"`] : []),
  ].join(' AND ');
}

interface ListedCheckout {
  checkoutId: string;
  workflowId: string;
  status: string | null;
  step: string | null;
  customerEmail: string | null;
  amount: number | null;
  currency: string | null;
  startTime: string;
  closeTime: string | null;
}

export function listCommand(ctx: CliContext, io: Io): Command {
  return new Command('list')
    .description('list checkouts, newest first, from Temporal visibility (the search attributes the Web UI filters on)')
    .addOption(new Option('--status <status>', `only checkouts in this status (${CHECKOUT_STATUSES.join(', ')})`).argParser(parseStatus))
    .addOption(new Option('--email <email>', "only this customer's checkouts").argParser(parseEmail))
    .addOption(new Option('--limit <n>', 'show at most n checkouts').argParser(positiveInteger(1000)).default(20))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExamples:\n  $ checkout-saga list --status NEEDS_ATTENTION\n  $ checkout-saga list --email ana@example.com --limit 5\n  $ checkout-saga list --status COMPLETED --json',
    )
    .action(async (opts: ListFilters & { limit: number; json?: boolean }) => {
      const client = await ctx.temporal();
      const query = checkoutListQuery(opts);
      const found: ListedCheckout[] = [];
      for await (const execution of client.workflow.list({ query, pageSize: Math.min(opts.limit, 100) })) {
        const sa = execution.typedSearchAttributes;
        found.push({
          checkoutId: checkoutIdFromWorkflowId(execution.workflowId) ?? execution.workflowId,
          workflowId: execution.workflowId,
          status: sa.get(searchAttributes.status) ?? null,
          step: sa.get(searchAttributes.step) ?? null,
          customerEmail: sa.get(searchAttributes.customerEmail) ?? null,
          amount: sa.get(searchAttributes.orderTotal) ?? null,
          currency: null,
          startTime: execution.startTime.toISOString(),
          closeTime: execution.closeTime?.toISOString() ?? null,
        });
        if (found.length >= opts.limit) break;
      }
      await addCurrencies(ctx, found);

      if (opts.json) {
        io.stdout(JSON.stringify({ ok: true, query, count: found.length, checkouts: found }, null, 2));
        return;
      }
      if (found.length === 0) {
        io.stdout(`No checkouts match ${query}`);
        return;
      }
      io.stdout(
        table(
          ['CHECKOUT', 'STATUS', 'STEP', 'CUSTOMER', 'TOTAL', 'STARTED'],
          found.map((c) => [
            c.checkoutId,
            c.status ?? '?',
            c.step && c.step !== 'none' ? c.step : '',
            c.customerEmail ?? '',
            c.amount === null ? '' : c.currency ? formatMoney(c.amount, c.currency) : String(c.amount),
            formatTime(c.startTime),
          ]),
        ),
      );
      const more = found.length === opts.limit ? ` (the newest ${opts.limit}; --limit shows more)` : '';
      io.stdout(`\n${found.length} checkout${found.length === 1 ? '' : 's'}${more}`);
    });
}

/** OrderTotal is minor units without a currency; the checkouts table has it. Best effort: a total without it still shows. */
async function addCurrencies(ctx: CliContext, found: ListedCheckout[]): Promise<void> {
  const ids = found.map((c) => c.checkoutId).filter((id) => /^[0-9a-f-]{36}$/i.test(id));
  if (ids.length === 0) return;
  try {
    const rows = await ctx.db().select({ id: checkouts.id, currency: checkouts.currency }).from(checkouts).where(inArray(checkouts.id, ids));
    const byId = new Map(rows.map((r) => [r.id, r.currency]));
    for (const c of found) c.currency = byId.get(c.checkoutId) ?? null;
  } catch {
    // PostgreSQL unreachable: the list itself came from Temporal and is still worth showing.
  }
}
