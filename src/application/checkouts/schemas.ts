import { z } from 'zod';
import { refuseForbiddenCharacters, TYPED_TEXT_PATTERN } from '../validation';

/**
 * What a client may send. Objects strip unknown keys rather than rejecting them: a client that
 * sends `price` or `total` gets its checkout, but those values are never read (the saga prices
 * the cart from the catalog). Text a person types (email, name, cancel reason) is trimmed, then
 * refused when it still holds a control character, an unpaired surrogate or a bidi override
 * (see forbiddenCharacter): such text is never silently rewritten, because what is stored, shown
 * to operators and put into emails must be what the client sent.
 */

/** A cart line above this is a typo or an attack, not a purchase; it also keeps totals far from int32. */
export const MAX_QUANTITY_PER_LINE = 100;
export const MAX_LINES = 50;

const requiredString = (what: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? 'is required' : `must be a ${what}`) });

const email = requiredString('string')
  .trim()
  .toLowerCase()
  .max(254, 'must be at most 254 characters')
  .superRefine(refuseForbiddenCharacters)
  .pipe(z.email({ error: 'must be a valid email address' }))
  // The document (src/api/openapi) shows what the pipe ends in: an email address.
  .meta({ format: 'email' });

const name = z
  .string({ error: 'must be a string' })
  .trim()
  .max(200, 'must be at most 200 characters')
  .superRefine(refuseForbiddenCharacters)
  // The document (src/api/openapi) shows the refinement as the pattern it amounts to.
  .meta({ pattern: TYPED_TEXT_PATTERN.any })
  .optional()
  .transform((value) => (value ? value : undefined));

export const skuSchema = requiredString('string')
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .regex(/^[\w.:-]*$/, 'may only contain letters, digits and . _ : -');

const quantity = z
  .number({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a number') })
  .int({ error: 'must be a whole number' })
  .min(1, 'must be at least 1')
  .max(MAX_QUANTITY_PER_LINE, `must be at most ${MAX_QUANTITY_PER_LINE}`);

export const startCheckoutSchema = z.object(
  {
    customer: z.object(
      { email, name },
      { error: (issue) => (issue.input === undefined ? 'is required' : 'must be an object with email and name') },
    ),
    items: z
      .array(z.object({ sku: skuSchema, quantity }, { error: 'must be an object with sku and quantity' }), {
        error: (issue) => (issue.input === undefined ? 'is required' : 'must be an array'),
      })
      .min(1, 'must contain at least one item')
      .max(MAX_LINES, `must contain at most ${MAX_LINES} items`),
    paymentMethodId: requiredString('string')
      .trim()
      .min(1, 'must not be empty')
      .max(255, 'must be at most 255 characters')
      .regex(/^pm_\w+$/, 'must be a Stripe PaymentMethod id (pm_...)'),
  },
  { error: 'the body must be a JSON object' },
);
export type StartCheckoutRequest = z.output<typeof startCheckoutSchema>;

/** Printable ASCII, as Stripe accepts; long enough for a UUID or a client's own scheme. */
export const idempotencyKeySchema = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  .regex(/^[\x21-\x7e]+$/, 'may only contain printable ASCII characters without spaces');

export const checkoutIdSchema = z.uuid({ error: 'must be a checkout id (a UUID)' });

export const cancelCheckoutSchema = z
  .object(
    {
      reason: z
        .string({ error: 'must be a string' })
        .trim()
        .min(1, 'must not be empty')
        .max(500, 'must be at most 500 characters')
        .superRefine(refuseForbiddenCharacters)
        .meta({ pattern: TYPED_TEXT_PATTERN.nonBlank })
        .optional(),
    },
    { error: 'the body must be a JSON object' },
  )
  .optional()
  .transform((body) => body ?? {});

/** Long-polls are capped so a proxy never cuts them and a client cannot pin a connection for long. */
export const MAX_WAIT_FOR_CHANGE_MS = 30_000;

/**
 * A query parameter holding a whole number: digits only. Number() would also take surrounding
 * whitespace (tab, line feed, vertical tab), a sign, hex or an exponent; none of that is a number a
 * client meant to send here.
 */
const wholeNumberParameter = (what: string) =>
  z
    .string({ error: `must be ${what}` })
    .regex(/^\d{1,15}$/, `must be ${what}`)
    .transform(Number);

export const statusQuerySchema = z.object({
  waitForChangeMs: wholeNumberParameter('a whole number of milliseconds')
    .pipe(z.number().max(MAX_WAIT_FOR_CHANGE_MS, `must be at most ${MAX_WAIT_FOR_CHANGE_MS}`))
    .optional(),
  /** The `version` the client already has: answer at once if the checkout has moved past it. */
  sinceVersion: wholeNumberParameter('a whole number').optional(),
});

/** `GET /api/checkouts/:id/events`: the version the client last received, from `Last-Event-ID` (or `?lastEventId=` where a client cannot set headers). */
export const statusEventsQuerySchema = z.object({
  lastEventId: wholeNumberParameter('a whole number (the id of the last event received)').optional(),
});

/**
 * A sign-in token as this service issues it (base64url), with room for other printable ASCII
 * schemes. Anything else cannot be one of ours: 400 naming the field, before it is hashed and
 * looked up. A well-formed token that is unknown, used or expired is still the same 401.
 */
export const loginTokenSchema = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
  .min(1, 'must not be empty')
  .max(512, 'must be at most 512 characters')
  .regex(/^[\x21-\x7e]*$/, 'may only contain printable ASCII characters without spaces');
