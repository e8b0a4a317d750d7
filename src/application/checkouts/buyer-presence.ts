import type { Client } from '@temporalio/client';
import type { Logger } from '../../logger';
import { buyerPresentSignal, checkoutWorkflowId, type CheckoutStatus } from '../../workflows/checkout/contract';

/**
 * Tells a checkout that waits on 3-D Secure that its buyer is still following it, so the saga gives
 * the challenge its full time instead of releasing the stock as abandoned (PAYMENT_ABANDON_AFTER_MS).
 * Only the holder of the checkout's secret reaches the status read that calls this, so a stranger
 * cannot keep someone else's reservation alive. At most one signal per checkout per `everyMs` from
 * this process: a page polling every second costs the workflow one task a minute, not sixty.
 */
export interface BuyerPresence {
  /** Fire and forget: the status answer never waits for it, and a failed signal is only logged. */
  seen(checkoutId: string, status: CheckoutStatus, logger: Logger): void;
}

/** Checkouts remembered at once; the oldest is forgotten first (a forgotten one is only signalled again). */
const MAX_TRACKED = 10_000;

export function createBuyerPresence(temporal: Client, opts: { everyMs: number; signalTimeoutMs?: number }): BuyerPresence {
  const lastSent = new Map<string, number>();
  const signalTimeoutMs = opts.signalTimeoutMs ?? 2_000;
  return {
    seen(checkoutId, status, logger) {
      if (status !== 'REQUIRES_ACTION' || opts.everyMs <= 0) return;
      const now = Date.now();
      const last = lastSent.get(checkoutId);
      if (last !== undefined && now - last < opts.everyMs) return;
      lastSent.delete(checkoutId);
      lastSent.set(checkoutId, now);
      if (lastSent.size > MAX_TRACKED) lastSent.delete(lastSent.keys().next().value!);
      const handle = temporal.workflow.getHandle(checkoutWorkflowId(checkoutId));
      temporal
        .withDeadline(Date.now() + signalTimeoutMs, () => handle.signal(buyerPresentSignal))
        .catch((err: unknown) => {
          // The next status read tries again; meanwhile the saga only sees the buyer a little later.
          lastSent.delete(checkoutId);
          logger.debug({ err, checkoutId }, 'buyerPresent signal not delivered');
        });
    },
  };
}
