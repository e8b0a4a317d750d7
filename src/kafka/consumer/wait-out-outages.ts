import { DeliveryInterrupted, type DeliveredEventHandler } from './delivery';
import { backoffMs, errorMessage } from './failures';

export interface OutageWaitOptions {
  /** A failure that is the world being down (database, network, mail server), not this message's own. */
  isTransient: (err: unknown) => boolean;
  /** First wait after a failure, doubling per try. */
  initialMs: number;
  /** Cap of the wait: how soon a dependency that is back is noticed. */
  maxMs: number;
}

/**
 * An outage of what the handler talks to is waited out on the same message, for as long as it
 * lasts: the partition holds, nothing behind the message is skipped, and these tries never count
 * towards the dead-letter limit (a database outage must not empty the topic into the DLQ). Any
 * other failure goes up to the wrapper that counts them.
 */
export function waitOutOutages({ isTransient, initialMs, maxMs }: OutageWaitOptions): (next: DeliveredEventHandler) => DeliveredEventHandler {
  return (next) => async (event, delivery) => {
    let outageSince: number | undefined;
    for (;;) {
      try {
        const outcome = await next(event, delivery);
        if (outageSince !== undefined) delivery.logger.info({ waitedMs: Date.now() - outageSince, attempt: delivery.tries }, 'dependency back; message handled');
        return outcome;
      } catch (err) {
        if (err instanceof DeliveryInterrupted || !isTransient(err)) throw err;
        if (outageSince === undefined) {
          outageSince = Date.now();
          delivery.logger.warn({ err: errorMessage(err) }, 'dependency unavailable; retrying this message until it is back');
        } else if (delivery.tries % 10 === 0) {
          delivery.logger.warn({ err: errorMessage(err), attempt: delivery.tries, waitingMs: Date.now() - outageSince }, 'dependency still unavailable');
        }
        await delivery.wait(backoffMs(delivery.tries, initialMs, maxMs));
      }
    }
  };
}
