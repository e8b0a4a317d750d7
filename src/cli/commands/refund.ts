import { Command, Option } from 'commander';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { fields, type Io } from '../output';
import { jsonOption, parseCents, parseCheckoutReference, parseReason, parseRefundKey, timeoutOption } from '../options';
import { OrderNotFoundError, RefundRefusedError, RefundStillRunningError } from '../../application/refunds/errors';
import { refundOrder } from '../../application/refunds/refund-order';
import { formatMoney } from '../../money';

export function refundCommand(ctx: CliContext, io: Io): Command {
  return new Command('refund')
    .description('refund a completed order, fully or in part (RefundWorkflow); safe to repeat')
    .argument('<orderOrCheckoutId>', 'the order id or its checkout id', parseCheckoutReference)
    .addOption(new Option('--amount <cents>', 'how much, in minor units (1250 = 12.50); default: everything not yet refunded').argParser(parseCents))
    .addOption(new Option('--reason <reason>', 'why; kept in the ledger, the Stripe refund and the customer email').argParser(parseReason))
    .addOption(
      new Option('--key <key>', 'refund key; default: derived from order, amount and reason, so the same command twice refunds once').argParser(
        parseRefundKey,
      ),
    )
    .addOption(timeoutOption('the refund to finish', 60))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nRunning the same refund again finds the first one and refunds nothing more. To make two identical\n' +
        'partial refunds on purpose, give them different reasons or keys.\n' +
        'Exit 1 with the reason when refused: unknown order, order not completed, nothing left to refund, over-refund.\n\n' +
        'Examples:\n  $ checkout-saga refund 9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d\n' +
        '  $ checkout-saga refund 9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d --amount 500 --reason "damaged item"\n' +
        '  $ checkout-saga refund 5d6b0c5e-2f1a-4c3e-9a51-0b7f1f0e2d11 --amount 500 --key ticket-4711 --json',
    )
    .action(async (rawId: string, opts: { amount?: number; reason?: string; key?: string; timeout: number; json?: boolean }) => {
      let outcome;
      try {
        const { db, temporal } = await ctx.checkoutDeps();
        outcome = await refundOrder(
          { db, temporal, taskQueue: ctx.config.TEMPORAL_TASK_QUEUE },
          {
            orderOrCheckoutId: rawId,
            source: 'cli',
            requestedBy: ctx.requestedBy,
            ...(opts.amount !== undefined ? { amount: opts.amount } : {}),
            ...(opts.reason ? { reason: opts.reason } : {}),
            ...(opts.key ? { refundKey: opts.key } : {}),
          },
          { waitMs: opts.timeout * 1000 },
        );
      } catch (err) {
        if (err instanceof OrderNotFoundError) throw new CliError('UNKNOWN_ORDER', `unknown order or checkout ${rawId}`);
        if (err instanceof RefundRefusedError) throw new CliError(err.failureCode, `refund refused (${err.failureCode}): ${err.message}`);
        if (err instanceof RefundStillRunningError) throw new CliError('REFUND_IN_PROGRESS', err.message);
        throw err;
      }

      const { result, repeated, workflowId } = outcome;
      if (opts.json) {
        io.stdout(JSON.stringify({ ok: true, repeated, workflowId, refund: result }, null, 2));
        return;
      }
      const left = result.orderAmount - result.totalRefunded;
      io.stdout(
        [
          repeated ? `Already done: this refund (key ${result.refundKey}) was made before; nothing more was refunded.\n` : '',
          fields([
            ['Refunded', `${formatMoney(result.amount, result.currency)} on order ${result.orderId}`],
            ['Order', `${result.orderStatus}, ${formatMoney(result.totalRefunded, result.currency)} of ${formatMoney(result.orderAmount, result.currency)} refunded${left > 0 ? `, ${formatMoney(left, result.currency)} left` : ''}`],
            ['Stock', result.orderStatus === 'REFUNDED' ? (result.stockReturned ? 'returned to sale' : 'nothing to return') : 'unchanged (partial refund)'],
            ['Reason', result.reason],
            ['Stripe refund', result.stripeRefundId],
            ['Refund key', result.refundKey],
            ['Workflow', workflowId],
            ['Web UI', ctx.webUiUrl(workflowId)],
          ]),
        ].join(''),
      );
    });
}
