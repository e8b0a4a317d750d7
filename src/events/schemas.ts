import { z } from 'zod';
import { EVENT_SOURCE, EVENT_SPEC_VERSION } from './outcome-events';

/**
 * The outcome-event contract, spelled once: every event type on `checkout.events` with the zod
 * schema of its `data`. The TypeScript types in contract.ts are inferred from these schemas, the
 * consumers validate with them, and tools/scripts/generate-event-schemas.ts turns them into the JSON
 * Schema files in src/events/json-schema/ for teams that consume the topic in another language.
 * Objects accept unknown keys: a field added later is an additive change that existing consumers
 * ignore, never a reason to dead-letter an event.
 */

export { EVENT_SOURCE, EVENT_SPEC_VERSION } from './outcome-events';

const uuid = z.uuid();
const minor = z.number().int().nonnegative().describe('Amount in minor units of `currency` (cents for EUR, yen for JPY)');
const currency = z
  .string()
  .regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code')
  .describe('ISO 4217 currency code');

export const eventBaseSchema = z.object({
  orderId: uuid.describe('The order; also the Kafka message key, so one order stays on one partition'),
  checkoutId: uuid.describe('The checkout that created the order'),
  customerEmail: z.email().describe("The buyer's email address"),
  sequence: z
    .number()
    .int()
    .positive()
    .describe("Per-order sequence number, 1 for the first event of an order: a consumer never lets an event override the state of a later one"),
});

export const eventLineSchema = z.object({
  sku: z.string().min(1),
  name: z.string(),
  quantity: z.number().int().positive(),
  unitPrice: minor.describe('Catalog price of one unit at reservation time, in minor units'),
  lineTotal: minor.describe('quantity x unitPrice, in minor units'),
});

const skuQuantity = z.object({ sku: z.string().min(1), quantity: z.number().int().positive() });

const data = <S extends z.ZodRawShape>(shape: S) => eventBaseSchema.extend(shape);

/** The `data` of every event type. Order matters only for readability: the saga's order first. */
export const EVENT_DATA_SCHEMAS = {
  'checkout.started': data({ items: z.array(skuQuantity).describe('The cart as the buyer sent it (not priced yet)') }).meta({
    description: 'A checkout was accepted and its saga started.',
  }),
  'stock.reserved': data({ amount: minor, currency, lines: z.array(eventLineSchema) }).meta({
    description: 'Every line was priced from the catalog and reserved; `amount` is the order total.',
  }),
  'payment.authorized': data({ amount: minor, currency, paymentIntentId: z.string().min(1) }).meta({
    description: 'Deferred capture: the card is authorized for the order total; the money moves at payment.captured, just before the order is confirmed.',
  }),
  'payment.captured': data({ amount: minor, currency, paymentIntentId: z.string().min(1) }).meta({
    description: 'The payment of the order total succeeded (with deferred capture: the authorized total was captured).',
  }),
  'user.created': data({ userId: uuid }).meta({
    description: 'The checkout created a customer account (not sent when the account already existed).',
  }),
  'order.confirmed': data({
    amount: minor,
    currency,
    lines: z.array(eventLineSchema),
    userId: uuid,
    customerName: z.string().optional(),
    signInDelivery: z
      .enum(['redirect', 'email'])
      .optional()
      .describe(
        'How the buyer signs in: `redirect`, the checkout created the account and its page signed them in; `email`, the account existed, so its owner gets a single-use sign-in link with the receipt. Absent on events from before it existed.',
      ),
  }).meta({ description: 'The order is CONFIRMED: paid, account ready. The receipt is sent on this event.' }),
  'checkout.failed': data({
    code: z.string().min(1).describe('Machine-readable failure code, e.g. OUT_OF_STOCK, PAYMENT_DECLINED, STEP_FAILED'),
    message: z.string().describe('What happened, in words a customer can read'),
    step: z.string().nullable().describe('The saga step that failed, or null when it failed before the first step'),
  }).meta({ description: 'The checkout ended FAILED after its compensations ran; any money taken was returned.' }),
  'checkout.cancelled': data({ reason: z.string() }).meta({
    description: 'The checkout was cancelled on request and its compensations ran.',
  }),
  'checkout.needs_attention': data({ pendingCompensations: z.array(z.string()) }).meta({
    description: 'A compensation could not finish; an operator has to act. Sent once per attempt round.',
  }),
  'stock.released': data({ lines: z.array(skuQuantity) }).meta({
    description: "The order's reservation was released (compensation) and the stock is on sale again.",
  }),
  'payment.voided': data({ paymentIntentId: z.string().min(1) }).meta({
    description: 'The payment intent was cancelled before any money was captured (compensation).',
  }),
  'payment.refunded': data({
    paymentIntentId: z.string().min(1),
    refundId: z.string().min(1).describe("Stripe's refund id"),
    amount: minor.describe('This refund, in minor units'),
    currency,
    totalRefunded: minor.describe('Everything refunded on the order so far, this refund included'),
    orderAmount: minor.describe('The order total'),
    reason: z.string().optional(),
  }).meta({ description: 'Money went back to the buyer: a refund from the CLI, one made in Stripe, or a checkout being undone.' }),
  'payment.disputed': data({
    paymentIntentId: z.string().min(1),
    disputeId: z.string().min(1).describe("Stripe's dispute id"),
    amount: minor.describe('The disputed amount, in minor units'),
    currency,
    reason: z.string().describe("Stripe's dispute reason, e.g. fraudulent, product_not_received"),
    evidenceDueBy: z.iso.datetime({ offset: true }).nullable().describe('When the shop must have submitted its evidence'),
  }).meta({ description: "The buyer's bank disputes the payment: the order is DISPUTED and cannot be refunded until the dispute closes." }),
  'payment.dispute_closed': data({
    paymentIntentId: z.string().min(1),
    disputeId: z.string().min(1),
    amount: minor,
    currency,
    outcome: z.enum(['won', 'lost']).describe('won: the shop keeps the money; lost: it went back to the buyer and counts as returned'),
    totalReturned: minor.describe('Everything returned on the order so far: refunds and lost disputes'),
    orderAmount: minor.describe('The order total'),
  }).meta({ description: 'A dispute was decided; a lost one counts as money returned (no later refund may exceed what is left).' }),
} as const;

export type CheckoutEventType = keyof typeof EVENT_DATA_SCHEMAS;
export const CHECKOUT_EVENT_TYPES = Object.keys(EVENT_DATA_SCHEMAS) as CheckoutEventType[];

export function isCheckoutEventType(type: string): type is CheckoutEventType {
  return Object.prototype.hasOwnProperty.call(EVENT_DATA_SCHEMAS, type);
}

/** The CloudEvents 1.0 attributes of an outcome event, as the producer sets them. */
export const envelopeSchema = z.object({
  specversion: z.literal(EVENT_SPEC_VERSION),
  id: z
    .string()
    .min(1)
    .describe('Deterministic per business event (e.g. `checkout-<checkoutId>:stock.reserved`): a re-sent event has the same id, and consumers drop it'),
  source: z.string().min(1).describe(`\`${EVENT_SOURCE}\` for events of this service`),
  type: z.string().min(1),
  subject: z.string().min(1).describe('The order id').optional(),
  time: z.iso.datetime({ offset: true }).describe('When the business outcome happened'),
  datacontenttype: z.literal('application/json').optional(),
  partitionkey: z.string().optional().describe('CloudEvents Kafka partitioning extension: the order id, equal to the message key'),
});

/** One event type's whole CloudEvent: the envelope with `type` fixed and its `data`. */
export function cloudEventSchema<T extends CheckoutEventType>(type: T) {
  return envelopeSchema.extend({ type: z.literal(type), data: EVENT_DATA_SCHEMAS[type] });
}

/**
 * The JSON Schema of every event type (draft 2020-12), keyed by type. Generated from the zod
 * schemas as the consumer sees them on the wire ("input"), so extra properties are allowed.
 */
export function eventJsonSchemas(): Record<CheckoutEventType, Record<string, unknown>> {
  const out = {} as Record<CheckoutEventType, Record<string, unknown>>;
  for (const type of CHECKOUT_EVENT_TYPES) {
    const dataSchema = EVENT_DATA_SCHEMAS[type];
    const generated = z.toJSONSchema(cloudEventSchema(type), { io: 'input', target: 'draft-2020-12' });
    const { $schema, ...rest } = generated;
    out[type] = {
      $schema,
      $id: `${EVENT_SOURCE}:events:${type}`,
      title: type,
      description: `${dataSchema.meta()?.description ?? ''} CloudEvents 1.0 in structured mode on Kafka topic \`checkout.events\`, message key = data.orderId.`.trim(),
      ...rest,
    };
  }
  return out;
}
