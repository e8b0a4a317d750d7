import { DomainError } from '../errors';

/** No order has this id, and no checkout with an order does. */
export class OrderNotFoundError extends DomainError {
  readonly kind = 'not_found';
  readonly code = 'order-not-found';
  readonly title = 'No such order';

  constructor(readonly reference: string) {
    super(`There is no order or checkout ${reference}.`);
  }
}

/** The refund was refused for a business reason (the workflow's failure type), never retried. */
export class RefundRefusedError extends DomainError {
  readonly kind = 'unprocessable';
  readonly code = 'refund-refused';
  readonly title = 'The refund was refused';

  constructor(
    /** RefundFailureCode: ORDER_NOT_REFUNDABLE, OVER_REFUND, REFUND_KEY_CONFLICT ... */
    readonly failureCode: string,
    message: string,
    readonly workflowId: string,
  ) {
    super(message);
    this.extensions.failureCode = failureCode;
  }
}

/** The refund did not finish within the caller's wait; it goes on, and asking again with the same key waits for it. */
export class RefundStillRunningError extends DomainError {
  readonly kind = 'conflict';
  readonly code = 'refund-in-progress';
  readonly title = 'The refund is still in progress';

  constructor(
    readonly workflowId: string,
    waitedMs: number,
  ) {
    super(`refund ${workflowId} is still in progress after ${Math.round(waitedMs / 1000)} s; run the same command again to wait for it`);
  }
}
