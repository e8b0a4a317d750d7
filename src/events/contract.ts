/**
 * The outcome events on `checkout.events`: one CloudEvent per business outcome, key = orderId.
 * The types are inferred from the zod schemas in schemas.ts, so the producer's types and what the
 * consumers validate can never drift apart. Workflow code imports this module as types only.
 */
import type { z } from 'zod';
import type { EVENT_DATA_SCHEMAS, eventBaseSchema, eventLineSchema, CheckoutEventType } from './schemas';

export { CHECKOUT_EVENT_TYPES, EVENT_SOURCE } from './schemas';
export type { CheckoutEventType } from './schemas';

export type EventLine = z.infer<typeof eventLineSchema>;

/** What every event's data carries, so a consumer never needs a second lookup to place it. */
export type EventBase = z.infer<typeof eventBaseSchema>;

export type CheckoutEventDataByType = { [T in CheckoutEventType]: z.infer<(typeof EVENT_DATA_SCHEMAS)[T]> };

export interface OutcomeEvent<T extends CheckoutEventType = CheckoutEventType> {
  /** Deterministic per business event (`checkout-<id>:stock.reserved`): a retried publish is a duplicate. */
  id: string;
  type: T;
  data: CheckoutEventDataByType[T];
}
