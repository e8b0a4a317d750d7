import { z } from 'zod';
import { parameterError, resourceMissing } from './errors';
import { clone, type EventOrigin, type Ledger } from './ledger';
import {
  booleanParam,
  enumParam,
  expandParam,
  integerParam,
  metadataParam,
  parseParams,
  stringParam,
} from './params';
import type { EmulatorClock } from './clock';
import { parsePaymentIntentQuery } from './search-query';
import type { EmulatorStore, Metadata } from './store';
import type { EventRecord, WebhookDispatcher } from './webhooks';

/**
 * The `/v1` endpoints: each parses its parameters as Stripe does, asks the ledger or the webhook
 * registry to act, and renders the Stripe-shaped answer (with `expand[]` applied). Idempotency,
 * faults, validation by stripe-mock and logging wrap these in server.ts.
 */

export interface ApiCall {
  params: Record<string, string>;
  /** The form body for POST, the query string for GET and DELETE, parsed like Stripe (nested keys). */
  input: unknown;
  origin: EventOrigin;
  /** The request's Stripe-Version, or the account default (the SDK's pinned version) when absent. */
  apiVersion: string;
}

export interface ApiResult {
  status?: number;
  body: unknown;
}

export type Operation = (call: ApiCall) => ApiResult;

export interface ApiRoute {
  method: 'get' | 'post' | 'delete';
  path: string;
  operation: Operation;
}

interface Deps {
  ledger: Ledger;
  store: EmulatorStore;
  webhooks: WebhookDispatcher;
  /** How long a new intent stays invisible to search, as Stripe's search index lags its writes. */
  searchIndexDelayMs: number;
  clock: EmulatorClock;
}

/**
 * API version 2026-10-28.endive (the one stripe 23.x pins) removed `payment_method_types` from
 * PaymentIntent create, confirm and update in favour of `allowed_payment_method_types`. Versions
 * compare as strings by their date prefix.
 */
const PAYMENT_METHOD_TYPES_REMOVED_IN = '2026-10-28';

const currencyParam = stringParam.regex(/^[a-zA-Z]{3}$/, { error: (issue) => `Invalid currency: ${String(issue.input)}` });
const urlParam = stringParam.refine((value) => URL.canParse(value), { error: 'Not a valid URL' });
const limitParam = integerParam.pipe(
  z.number().min(1, { error: 'This value must be greater than or equal to 1.' }).max(100, { error: 'This value must be less than or equal to 100.' }),
);
const optionalString = z.string().optional();

const createIntentParams = z.strictObject({
  amount: integerParam,
  currency: currencyParam,
  payment_method: stringParam.optional(),
  confirm: booleanParam.optional(),
  metadata: metadataParam.optional(),
  description: optionalString,
  receipt_email: optionalString,
  return_url: urlParam.optional(),
  capture_method: enumParam('capture_method', ['automatic', 'automatic_async', 'manual']).optional(),
  payment_method_types: z.array(stringParam).optional(),
  allowed_payment_method_types: z.array(stringParam).optional(),
  automatic_payment_methods: z
    .strictObject({ enabled: booleanParam, allow_redirects: enumParam('allow_redirects', ['always', 'never']).optional() })
    .optional(),
  expand: expandParam,
});

const updateIntentParams = z.strictObject({
  amount: integerParam.optional(),
  currency: currencyParam.optional(),
  payment_method: stringParam.optional(),
  metadata: metadataParam.optional(),
  description: optionalString,
  receipt_email: optionalString,
  expand: expandParam,
});

const confirmIntentParams = z.strictObject({
  payment_method: stringParam.optional(),
  return_url: urlParam.optional(),
  receipt_email: optionalString,
  expand: expandParam,
});

const captureIntentParams = z.strictObject({
  amount_to_capture: integerParam.optional(),
  /** Multicapture (`false`) needs a card feature the emulator does not have; `true` is what a single capture does anyway. */
  final_capture: booleanParam.optional(),
  metadata: metadataParam.optional(),
  expand: expandParam,
});

const cancelIntentParams = z.strictObject({
  cancellation_reason: enumParam('cancellation_reason', ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned']).optional(),
  expand: expandParam,
});

const retrieveParams = z.strictObject({ expand: expandParam, client_secret: optionalString });
/** `created=N` or `created[gte]=N` (and gt, lt, lte): Unix seconds, as Stripe's list filters take them. */
const createdParam = z.union([
  integerParam,
  z.strictObject({ gt: integerParam.optional(), gte: integerParam.optional(), lt: integerParam.optional(), lte: integerParam.optional() }),
]);
/** Cursor pagination: the page after this object id (what the SDK's auto-pagination sends). */
const startingAfterParam = stringParam.optional();

const listIntentsParams = z.strictObject({ created: createdParam.optional(), limit: limitParam.optional(), starting_after: startingAfterParam, expand: expandParam });
const searchParams = z.strictObject({ query: stringParam, limit: limitParam.optional(), page: optionalString, expand: expandParam });

const createRefundParams = z.strictObject({
  payment_intent: stringParam.optional(),
  charge: stringParam.optional(),
  amount: integerParam.optional(),
  reason: enumParam('reason', ['duplicate', 'fraudulent', 'requested_by_customer']).optional(),
  metadata: metadataParam.optional(),
  expand: expandParam,
});
const listRefundsParams = z.strictObject({
  payment_intent: optionalString,
  charge: optionalString,
  limit: limitParam.optional(),
  starting_after: startingAfterParam,
  expand: expandParam,
});
const listChargesParams = z.strictObject({ payment_intent: optionalString, limit: limitParam.optional(), starting_after: startingAfterParam, expand: expandParam });

const listDisputesParams = z.strictObject({
  charge: optionalString,
  payment_intent: optionalString,
  created: createdParam.optional(),
  limit: limitParam.optional(),
  starting_after: startingAfterParam,
  expand: expandParam,
});

const createEndpointParams = z.strictObject({
  url: urlParam,
  enabled_events: z.array(stringParam).min(1),
  description: optionalString,
  metadata: metadataParam.optional(),
  api_version: optionalString,
  expand: expandParam,
});
const listEndpointsParams = z.strictObject({ limit: limitParam.optional(), starting_after: startingAfterParam, expand: expandParam });
const listEventsParams = z.strictObject({ type: optionalString, limit: limitParam.optional(), starting_after: startingAfterParam, expand: expandParam });

export function apiRoutes({ ledger, store, webhooks, searchIndexDelayMs, clock }: Deps): ApiRoute[] {
  const expansion = createExpansion(store);

  return [
    {
      method: 'post',
      path: '/v1/payment_intents',
      operation: ({ input, origin, apiVersion }) => {
        const p = parseParams(createIntentParams, input);
        const render = expansion('payment_intent', p.expand);
        if (p.payment_method_types && apiVersion >= PAYMENT_METHOD_TYPES_REMOVED_IN) {
          // stripe-mock's older spec still accepts it, so the emulator is what catches this one.
          throw parameterError(
            `Received unknown parameter: payment_method_types. It was removed in API version ${PAYMENT_METHOD_TYPES_REMOVED_IN} (this request uses ${apiVersion}); ` +
              'use automatic_payment_methods (with allow_redirects=never for server-side confirmation) or allowed_payment_method_types.',
            { code: 'parameter_unknown', param: 'payment_method_types' },
          );
        }
        const typesParam = p.allowed_payment_method_types ? 'allowed_payment_method_types' : 'payment_method_types';
        const unsupported = (p.allowed_payment_method_types ?? p.payment_method_types)?.find((t) => t !== 'card');
        if (unsupported) {
          throw parameterError(`The Stripe emulator only supports the payment method type "card", not "${unsupported}".`, { param: typesParam });
        }
        const intent = ledger.createIntent(
          {
            amount: p.amount,
            currency: p.currency,
            paymentMethod: p.payment_method,
            confirm: p.confirm ?? false,
            metadata: metadataOf(p.metadata),
            description: p.description,
            receiptEmail: p.receipt_email || undefined,
            returnUrl: p.return_url,
            captureMethod: p.capture_method,
            paymentMethodTypes: p.payment_method_types,
            allowedPaymentMethodTypes: p.allowed_payment_method_types,
            automaticPaymentMethods: p.automatic_payment_methods,
          },
          origin,
        );
        return { body: render(intent) };
      },
    },
    {
      method: 'get',
      path: '/v1/payment_intents/search',
      operation: ({ input }) => {
        const p = parseParams(searchParams, input);
        const render = expansion('payment_intent', p.expand, 'list');
        const matches = parsePaymentIntentQuery(p.query);
        const indexedBefore = clock.now() - searchIndexDelayMs;
        const found = [...store.intents.values()]
          .filter((r) => r.createdAtMs <= indexedBefore && matches(r.object))
          .map((r) => r.object)
          .reverse();
        const page = found.slice(0, p.limit ?? 10);
        return {
          body: render({ object: 'search_result', data: page, has_more: found.length > page.length, next_page: null, url: '/v1/payment_intents/search' }),
        };
      },
    },
    {
      method: 'get',
      path: '/v1/payment_intents',
      operation: ({ input }) => {
        const p = parseParams(listIntentsParams, input);
        const render = expansion('payment_intent', p.expand, 'list');
        const inRange = createdFilter(p.created);
        const intents = [...store.intents.values()].map((r) => r.object).filter((pi) => inRange(pi.created));
        return { body: render(list('/v1/payment_intents', intents, p)) };
      },
    },
    {
      method: 'get',
      path: '/v1/payment_intents/:id',
      operation: ({ params, input }) => {
        const p = parseParams(retrieveParams, input);
        const render = expansion('payment_intent', p.expand);
        return { body: render(ledger.intentOrThrow(params.id!).object) };
      },
    },
    {
      method: 'post',
      path: '/v1/payment_intents/:id',
      operation: ({ params, input }) => {
        const p = parseParams(updateIntentParams, input);
        const render = expansion('payment_intent', p.expand);
        const intent = ledger.updateIntent(params.id!, {
          amount: p.amount,
          currency: p.currency,
          paymentMethod: p.payment_method,
          metadata: p.metadata,
          description: p.description,
          receiptEmail: p.receipt_email,
        });
        return { body: render(intent) };
      },
    },
    {
      method: 'post',
      path: '/v1/payment_intents/:id/confirm',
      operation: ({ params, input, origin }) => {
        const p = parseParams(confirmIntentParams, input);
        const render = expansion('payment_intent', p.expand);
        const intent = ledger.confirmIntent(params.id!, { paymentMethod: p.payment_method, returnUrl: p.return_url, receiptEmail: p.receipt_email }, origin);
        return { body: render(intent) };
      },
    },
    {
      method: 'post',
      path: '/v1/payment_intents/:id/capture',
      operation: ({ params, input, origin }) => {
        const p = parseParams(captureIntentParams, input);
        const render = expansion('payment_intent', p.expand);
        if (p.final_capture === false) {
          throw parameterError(
            'final_capture=false needs multicapture, which is not available for this PaymentIntent: the Stripe emulator captures an authorization once, releasing what is not captured.',
            { param: 'final_capture' },
          );
        }
        return { body: render(ledger.captureIntent(params.id!, { amountToCapture: p.amount_to_capture, metadata: p.metadata }, origin)) };
      },
    },
    {
      method: 'post',
      path: '/v1/payment_intents/:id/cancel',
      operation: ({ params, input, origin }) => {
        const p = parseParams(cancelIntentParams, input);
        const render = expansion('payment_intent', p.expand);
        return { body: render(ledger.cancelIntent(params.id!, p.cancellation_reason, origin)) };
      },
    },
    {
      method: 'post',
      path: '/v1/refunds',
      operation: ({ input, origin }) => {
        const p = parseParams(createRefundParams, input);
        const render = expansion('refund', p.expand);
        const refund = ledger.refund(
          { paymentIntent: p.payment_intent, charge: p.charge, amount: p.amount, reason: p.reason, metadata: metadataOf(p.metadata) },
          origin,
        );
        return { body: render(refund) };
      },
    },
    {
      method: 'get',
      path: '/v1/refunds',
      operation: ({ input }) => {
        const p = parseParams(listRefundsParams, input);
        const render = expansion('refund', p.expand, 'list');
        const refunds = [...store.refunds.values()].filter(
          (r) => (!p.payment_intent || r.payment_intent === p.payment_intent) && (!p.charge || r.charge === p.charge),
        );
        return { body: render(list('/v1/refunds', refunds, p)) };
      },
    },
    {
      method: 'get',
      path: '/v1/refunds/:id',
      operation: ({ params, input }) => {
        const p = parseParams(retrieveParams, input);
        const render = expansion('refund', p.expand);
        const refund = store.refunds.get(params.id!);
        if (!refund) throw resourceMissing('refund', params.id!, 'refund');
        return { body: render(refund) };
      },
    },
    {
      method: 'get',
      path: '/v1/charges',
      operation: ({ input }) => {
        const p = parseParams(listChargesParams, input);
        const render = expansion('charge', p.expand, 'list');
        const charges = [...store.charges.values()].filter((c) => !p.payment_intent || c.payment_intent === p.payment_intent);
        return { body: render(list('/v1/charges', charges, p)) };
      },
    },
    {
      method: 'get',
      path: '/v1/charges/:id',
      operation: ({ params, input }) => {
        const p = parseParams(retrieveParams, input);
        const render = expansion('charge', p.expand);
        const charge = store.charges.get(params.id!);
        if (!charge) throw resourceMissing('charge', params.id!, 'id');
        return { body: render(charge) };
      },
    },
    {
      method: 'get',
      path: '/v1/disputes',
      operation: ({ input }) => {
        const p = parseParams(listDisputesParams, input);
        const render = expansion('dispute', p.expand, 'list');
        const inRange = createdFilter(p.created);
        const disputes = [...store.disputes.values()].filter(
          (d) => (!p.charge || d.charge === p.charge) && (!p.payment_intent || d.payment_intent === p.payment_intent) && inRange(d.created),
        );
        return { body: render(list('/v1/disputes', disputes, p)) };
      },
    },
    {
      method: 'get',
      path: '/v1/disputes/:id',
      operation: ({ params, input }) => {
        const p = parseParams(retrieveParams, input);
        const render = expansion('dispute', p.expand);
        return { body: render(ledger.disputeOrThrow(params.id!)) };
      },
    },
    {
      method: 'post',
      path: '/v1/webhook_endpoints',
      operation: ({ input }) => {
        const p = parseParams(createEndpointParams, input);
        expansion('none', p.expand);
        const endpoint = webhooks.registerEndpoint({
          url: p.url,
          enabledEvents: p.enabled_events,
          description: p.description,
          metadata: metadataOf(p.metadata),
          apiVersion: p.api_version,
        });
        return { body: endpoint };
      },
    },
    {
      method: 'get',
      path: '/v1/webhook_endpoints',
      operation: ({ input }) => {
        const p = parseParams(listEndpointsParams, input);
        expansion('none', p.expand, 'list');
        return { body: list('/v1/webhook_endpoints', webhooks.listEndpoints(), p) };
      },
    },
    {
      method: 'get',
      path: '/v1/webhook_endpoints/:id',
      operation: ({ params, input }) => {
        const p = parseParams(retrieveParams, input);
        expansion('none', p.expand);
        const endpoint = webhooks.endpoint(params.id!);
        if (!endpoint) throw resourceMissing('webhook_endpoint', params.id!, 'webhook_endpoint');
        return { body: endpoint };
      },
    },
    {
      method: 'delete',
      path: '/v1/webhook_endpoints/:id',
      operation: ({ params }) => {
        if (!webhooks.deleteEndpoint(params.id!)) throw resourceMissing('webhook_endpoint', params.id!, 'webhook_endpoint');
        return { body: { id: params.id, object: 'webhook_endpoint', deleted: true } };
      },
    },
    {
      method: 'get',
      path: '/v1/events',
      operation: ({ input }) => {
        const p = parseParams(listEventsParams, input);
        expansion('none', p.expand, 'list');
        const events = webhooks.events.map((r: EventRecord) => r.event).filter((e) => !p.type || e.type === p.type);
        return { body: list('/v1/events', events, p) };
      },
    },
    {
      method: 'get',
      path: '/v1/events/:id',
      operation: ({ params, input }) => {
        const p = parseParams(retrieveParams, input);
        expansion('none', p.expand);
        const record = webhooks.event(params.id!);
        if (!record) throw resourceMissing('event', params.id!, 'id');
        return { body: record.event };
      },
    },
  ];
}

function metadataOf(metadata: Metadata | '' | undefined): Metadata {
  return metadata === '' || metadata === undefined ? {} : metadata;
}

/**
 * Stripe lists newest first (the emulator keeps insertion order, oldest first), `limit` at a time,
 * the next page starting after the last id of the one before. Unlike search, a list shows an object
 * as soon as the request that made it has answered.
 */
function list<T extends { id: string }>(url: string, items: T[], { limit = 10, starting_after }: { limit?: number; starting_after?: string }) {
  let newestFirst = [...items].reverse();
  if (starting_after) {
    const at = newestFirst.findIndex((item) => item.id === starting_after);
    if (at === -1) throw resourceMissing('object', starting_after, 'starting_after', 400);
    newestFirst = newestFirst.slice(at + 1);
  }
  const data = newestFirst.slice(0, limit);
  return { object: 'list', data, has_more: newestFirst.length > data.length, url };
}

function createdFilter(created: number | { gt?: number; gte?: number; lt?: number; lte?: number } | undefined): (unix: number) => boolean {
  if (created === undefined) return () => true;
  if (typeof created === 'number') return (unix) => unix === created;
  return (unix) =>
    (created.gt === undefined || unix > created.gt) &&
    (created.gte === undefined || unix >= created.gte) &&
    (created.lt === undefined || unix < created.lt) &&
    (created.lte === undefined || unix <= created.lte);
}

/** The fields `expand[]` may turn from an id into the object, per object type. */
const EXPANDABLE = {
  payment_intent: ['latest_charge'],
  charge: ['payment_intent'],
  refund: ['charge', 'payment_intent'],
  dispute: ['charge', 'payment_intent'],
  none: [],
} as const satisfies Record<string, readonly string[]>;

type Renderer = (object: object) => object;

/**
 * Checks `expand[]` before anything happens (a refused expansion must not leave a created intent
 * behind) and returns how to render the answer: a copy, so later changes never leak into a saved
 * idempotent answer, with the requested ids replaced by their objects. Paths use Stripe's syntax:
 * `latest_charge` on an object, `data.latest_charge` on a list.
 */
function createExpansion(store: EmulatorStore) {
  const resolve = (id: unknown): object | undefined => {
    if (typeof id !== 'string') return undefined;
    if (id.startsWith('ch_')) return store.charges.get(id);
    if (id.startsWith('pi_')) return store.intent(id)?.object;
    return undefined;
  };
  return (type: keyof typeof EXPANDABLE, expand: string[] | undefined, shape: 'object' | 'list' = 'object'): Renderer => {
    const allowed: readonly string[] = EXPANDABLE[type];
    const fields = (expand ?? []).map((path) => {
      const field = shape === 'list' ? path.replace(/^data\./, '') : path;
      if ((shape === 'list' && !path.startsWith('data.')) || !allowed.includes(field)) {
        throw parameterError(`This property cannot be expanded (${path}).`, { param: 'expand' });
      }
      return field;
    });
    const expandFields = (target: Record<string, unknown>) => {
      for (const field of fields) {
        const expanded = resolve(target[field]);
        if (expanded) target[field] = clone(expanded);
      }
    };
    return (object) => {
      const copy = clone(object) as Record<string, unknown>;
      if (shape === 'list') for (const item of copy.data as Record<string, unknown>[]) expandFields(item);
      else expandFields(copy);
      return copy;
    };
  };
}
