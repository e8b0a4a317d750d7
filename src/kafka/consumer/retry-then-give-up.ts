import { DeliveryInterrupted, type DeliveredEventHandler } from './delivery';
import { backoffMs, errorMessage, rootCause } from './failures';

export interface RetryOptions {
  /** Failures of one message before it is given up. */
  maxAttempts: number;
  /** First wait after a failure, doubling per failure. */
  initialMs: number;
  /** Cap of the wait between two tries. */
  maxMs: number;
}

/** The handler failed `failures` times on this event: a bug or a refusal no wait will fix. */
export class HandlerKeptFailing extends Error {
  constructor(
    readonly lastError: unknown,
    readonly failures: number,
    readonly eventId: string,
    readonly eventType: string,
  ) {
    super(errorMessage(lastError));
    this.name = 'HandlerKeptFailing';
  }
}

/**
 * Every failure that reaches this wrapper counts (outages are absorbed below it): the message is
 * tried again after a backoff, and after `maxAttempts` failures given up as HandlerKeptFailing, so
 * a message that breaks the handler cannot block its partition forever.
 */
export function retryThenGiveUp({ maxAttempts, initialMs, maxMs }: RetryOptions): (next: DeliveredEventHandler) => DeliveredEventHandler {
  return (next) => async (event, delivery) => {
    for (let failures = 1; ; failures++) {
      try {
        return await next(event, delivery);
      } catch (err) {
        if (err instanceof DeliveryInterrupted) throw err;
        delivery.logger.warn({ err: rootCause(err), failures, maxAttempts }, 'handler failed');
        if (failures >= maxAttempts) throw new HandlerKeptFailing(err, failures, event.id, event.type);
        await delivery.wait(backoffMs(failures, initialMs, maxMs));
      }
    }
  };
}
