import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { eventEnvelope, type WebhookResult } from '../../application/payments/stripe-webhooks';
import { type Exactly, fieldErrors, jsonResponse, problemResponse, retryAfter, security } from './common';
import { z } from 'zod';

/** Stripe's webhooks (routes/stripe-webhooks.ts, application/payments/stripe-webhooks.ts). */

const OUTCOMES = ['signalled', 'unknown_intent', 'workflow_closed', 'not_awaited', 'handled', 'recorded', 'ignored', 'duplicate'] as const;
const _outcomesListed: Exactly<(typeof OUTCOMES)[number], WebhookResult['outcome']> = true;

const WebhookReceived = z
  .strictObject({
    received: z.literal(true),
    id: z.string().meta({ description: 'The Stripe event id.', example: 'evt_1QdWq2' }),
    outcome: z.enum(OUTCOMES).meta({
      description: 'What became of it: `signalled` to its checkout, `unknown_intent` (no checkout of ours), `workflow_closed` (the checkout had ended), `not_awaited` (its saga is not waiting on the payment: it learned the outcome from the confirm), `handled`/`recorded` (a charge event), `ignored` (a type not acted on), `duplicate` (routed before).',
    }),
  })
  .meta({ id: 'WebhookReceived' });

/**
 * The event as the API reads it. Its id has two patterns (a Stripe id, and `evt_` first) and the
 * generator writes only the first, so the document would accept ids the API refuses: the one
 * pattern here holds both.
 */
const StripeEvent = eventEnvelope.extend({ id: eventEnvelope.shape.id.meta({ pattern: '^evt_[\\w-]*$' }) }).meta({ id: 'StripeEvent' });

export function describePayments(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/webhooks/stripe',
    operationId: 'receiveStripeEvent',
    tags: ['payments'],
    summary: 'Receive a Stripe event',
    description:
      'Verifies `Stripe-Signature` over the raw body (5-minute tolerance), records the event by its id and routes it: `payment_intent.*` to its checkout, `charge.refunded` and `charge.dispute.*` to the refund and dispute flows. Answers in milliseconds; a redelivery is answered 200 and does nothing.',
    security: security.stripe,
    request: {
      body: {
        required: true,
        description: 'A Stripe event, exactly as Stripe sent it (the signature covers these bytes). Up to 256 kB.',
        content: { 'application/json': { schema: StripeEvent } },
      },
    },
    responses: {
      200: jsonResponse('Verified and recorded (also a duplicate, or an event for an intent that is none of ours)', WebhookReceived),
      400: problemResponse(400, 'Forged, stale or unsigned; or signed but not shaped like a Stripe event (the fields named)', ['webhook-signature-invalid', 'webhook-event-malformed', 'request-aborted'], {
        extensions: { errors: fieldErrors.errors.optional() },
      }),
      413: problemResponse(413, 'The body is over 256 kB', ['body-too-large']),
      415: problemResponse(415, 'The body is compressed other than gzip or deflate', ['unsupported-encoding']),
      503: problemResponse(503, 'Temporal cannot be reached: the event is recorded, and Stripe’s next delivery routes it', ['service-unavailable'], { headers: retryAfter }),
    },
  });
}
