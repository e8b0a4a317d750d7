import { Command, Option } from 'commander';
import { listCheckouts, type ListFilters } from '../../application/checkouts/list';
import { formatMoney } from '../../money';
import { CHECKOUT_STATUSES } from '../../workflows/checkout/contract';
import type { CliContext } from '../context';
import { formatTime, table, type Io } from '../output';
import { jsonOption, parseEmail, parseStatus, positiveInteger } from '../options';

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
      const deps = await ctx.checkoutDeps();
      const { query, checkouts: found } = await listCheckouts(deps, { ...(opts.status ? { status: opts.status } : {}), ...(opts.email ? { email: opts.email } : {}) }, opts.limit);

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
