import { createHash, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type WorkflowStartOptions } from '@temporalio/client';
import { and, eq, inArray, isNull } from 'drizzle-orm';
import { checkouts, idempotencyKeys, products } from '../../../db/schema';
import type { Database } from '../../../db/client';
import {
  CHECKOUT_WORKFLOW_TYPE,
  checkoutWorkflowId,
  searchAttributes,
  type CheckoutInput,
  type CheckoutStatus,
} from '../../workflows/checkout/contract';
import type { CheckoutWorkflow } from '../../workflows/checkout/workflow';
import { customerEmailHash } from '../../temporal/customer-email-hash';
import { assertUnitsPerSku } from './cart-limits';
import { checkoutSecretFor, hashCheckoutSecret } from './checkout-secret';
import type { CheckoutDeps } from './deps';
import { sagaTimings, type SagaTimings } from './saga-timings';
import { IdempotencyKeyReusedError, MixedCurrencyCartError, UnknownSkuError } from './errors';
import type { StartCheckoutRequest } from './schemas';
import { rethrowTemporalUnavailable } from '../temporal-errors';

export interface StartCheckoutResult {
  checkoutId: string;
  status: CheckoutStatus;
  /** True when an earlier request with the same Idempotency-Key created this checkout. */
  replayed: boolean;
  /** The buyer's key to the checkout's status and cancel (checkout-secret.ts); the same again for a replay. */
  checkoutSecret: string;
}

export interface StartCheckoutOptions {
  idempotencyKey?: string;
  /** Keyed hash of the client's address: kept on the row, and its share of the door checked. */
  clientHash?: string;
  /** Internal (tests, bench), never from a request: the ids this checkout gets instead of new ones. */
  ids?: { checkoutId: string; orderId: string };
  /** Internal (tests, bench), never from a request: the saga's clocks instead of the configured ones. */
  timings?: SagaTimings;
}

/**
 * Records the checkout and starts its saga: every checkout starts here, from the API, the test
 * harness and the bench alike, and this is the only place its row is created. The row is written
 * first so the status endpoint can answer from PostgreSQL even before a worker picks the workflow
 * up. With an Idempotency-Key the key and the row are one transaction, so of two concurrent submits
 * exactly one creates a checkout; the other finds it and, like any replay, only makes sure its saga
 * was started.
 */
export async function startCheckout(deps: CheckoutDeps, request: StartCheckoutRequest, options: StartCheckoutOptions = {}): Promise<StartCheckoutResult> {
  const { idempotencyKey, clientHash, timings } = options;
  const requestHash = hashCheckoutRequest(request);
  if (idempotencyKey) {
    const earlier = await findIdempotencyKey(deps.db, idempotencyKey);
    if (earlier) return replay(deps, earlier, request, requestHash);
  }

  assertUnitsPerSku(request.items, deps.config.MAX_UNITS_PER_SKU);
  // The saga checks again when it reserves; this only spares the customer a saga for a typo'd SKU.
  await assertCatalogHas(deps.db, request.items);

  const { checkoutId, orderId } = options.ids ?? { checkoutId: randomUUID(), orderId: randomUUID() };
  const checkoutSecret = checkoutSecretFor(deps.config.SSO_SECRET, checkoutId);
  const created = await deps.db.transaction(async (tx) => {
    // The key first: a concurrent duplicate of this very submit waits here and then replays it,
    // instead of being counted as one more checkout of its client.
    if (idempotencyKey) {
      const claimed = await tx.insert(idempotencyKeys).values({ key: idempotencyKey, requestHash, checkoutId }).onConflictDoNothing().returning();
      if (claimed.length === 0) return false;
    }
    if (clientHash) await deps.admission?.admitClient(tx, clientHash);
    // After the replay check (a retry of a checkout already accepted is always answered) and after
    // the client's own share (a checkout refused for that takes no place in the global count).
    await deps.admission?.admit(tx);
    await tx.insert(checkouts).values({
      id: checkoutId,
      orderId,
      workflowId: checkoutWorkflowId(checkoutId),
      customerEmail: request.customer.email,
      customerName: request.customer.name ?? null,
      status: 'PENDING',
      secretHash: hashCheckoutSecret(checkoutSecret),
      clientHash: clientHash ?? null,
    });
    return true;
  });
  if (!created) {
    // Lost the race to a concurrent request with the same key, which has committed by now.
    const winner = await findIdempotencyKey(deps.db, idempotencyKey!);
    if (!winner) throw new Error(`idempotency key vanished after a conflict on insert`);
    return replay(deps, winner, request, requestHash);
  }

  await startCheckoutWorkflow(deps, { checkoutId, orderId, request, timings });
  deps.logger.info({ checkoutId, orderId, lines: request.items.length }, 'checkout started');
  return { checkoutId, status: 'PENDING', replayed: false, checkoutSecret };
}

async function replay(
  deps: CheckoutDeps,
  earlier: typeof idempotencyKeys.$inferSelect,
  request: StartCheckoutRequest,
  requestHash: string,
): Promise<StartCheckoutResult> {
  if (earlier.requestHash !== requestHash) throw new IdempotencyKeyReusedError();
  const [row] = await deps.db.select().from(checkouts).where(eq(checkouts.id, earlier.checkoutId));
  if (!row) throw new Error(`checkout ${earlier.checkoutId} of an idempotency key is missing`);
  // The same key and body prove the client made this checkout: it gets the secret the first answer carried.
  const checkoutSecret = checkoutSecretFor(deps.config.SSO_SECRET, row.id);
  if (!row.secretHash) {
    // A checkout from before secrets existed: this replay is its buyer's way in.
    await deps.db.update(checkouts).set({ secretHash: hashCheckoutSecret(checkoutSecret) }).where(and(eq(checkouts.id, row.id), isNull(checkouts.secretHash)));
  }
  // Still PENDING may mean the first request stored the row but could not reach Temporal: start it
  // now. The conflict and reuse policies make this a no-op when the saga already exists.
  if (row.status === 'PENDING') await startCheckoutWorkflow(deps, { checkoutId: row.id, orderId: row.orderId, request });
  deps.logger.info({ checkoutId: row.id }, 'checkout request replayed by idempotency key');
  return { checkoutId: row.id, status: row.status as CheckoutStatus, replayed: true, checkoutSecret };
}

async function startCheckoutWorkflow(
  deps: CheckoutDeps,
  checkout: { checkoutId: string; orderId: string; request: StartCheckoutRequest; timings?: SagaTimings | undefined },
): Promise<void> {
  const { checkoutId, orderId, request } = checkout;
  const input: CheckoutInput & { customerEmailHash: string } = {
    checkoutId,
    orderId,
    customer: { email: request.customer.email, ...(request.customer.name ? { name: request.customer.name } : {}) },
    items: request.items.map(({ sku, quantity }) => ({ sku, quantity })),
    paymentMethodId: request.paymentMethodId,
    customerEmailHash: customerEmailHash(deps.config, request.customer.email),
    ...(checkout.timings ?? sagaTimings(deps.config)),
  };
  try {
    await deps.temporal.withDeadline(Date.now() + deps.timeouts.startWorkflowMs, () =>
      deps.temporal.workflow.start<typeof CheckoutWorkflow>(CHECKOUT_WORKFLOW_TYPE, checkoutStartOptions(input, deps.config.TEMPORAL_TASK_QUEUE)),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return;
    // The row stays PENDING: a retry with the same Idempotency-Key starts this very checkout.
    rethrowTemporalUnavailable(err);
  }
}

/** How every CheckoutWorkflow is started. */
function checkoutStartOptions(input: CheckoutInput & { customerEmailHash: string }, taskQueue: string): WorkflowStartOptions<typeof CheckoutWorkflow> {
  return {
    taskQueue,
    workflowId: checkoutWorkflowId(input.checkoutId),
    args: [input],
    // A running saga with this id is the same checkout (a retry or a concurrent submit): use it.
    workflowIdConflictPolicy: 'USE_EXISTING',
    // A finished one must never run again: that would charge a second time.
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [
      { key: searchAttributes.status, value: 'PENDING' },
      { key: searchAttributes.step, value: 'none' },
      // The keyed hash, never the address: visibility is indexed and shown in clear.
      { key: searchAttributes.customerEmail, value: input.customerEmailHash },
    ],
  };
}

async function findIdempotencyKey(db: Database, key: string) {
  const [row] = await db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key));
  return row;
}

async function assertCatalogHas(db: Database, items: StartCheckoutRequest['items']): Promise<void> {
  const skus = [...new Set(items.map((i) => i.sku))];
  const found = await db.select({ sku: products.sku, currency: products.currency }).from(products).where(inArray(products.sku, skus));
  const known = new Set(found.map((p) => p.sku));
  const unknown = skus.filter((sku) => !known.has(sku));
  if (unknown.length > 0) {
    const fieldErrors = items.flatMap((item, i) => (known.has(item.sku) ? [] : [{ field: `items[${i}].sku`, message: `no product has the SKU ${item.sku}` }]));
    throw new UnknownSkuError(unknown, fieldErrors);
  }
  const currencies = [...new Set(found.map((p) => p.currency))];
  if (currencies.length > 1) throw new MixedCurrencyCartError(currencies);
}

/**
 * The request as the key remembers it: normalised values, lines merged by SKU and sorted, so two
 * bodies that mean the same cart hash alike and any real difference does not.
 */
export function hashCheckoutRequest(request: StartCheckoutRequest): string {
  const quantities = new Map<string, number>();
  for (const { sku, quantity } of request.items) quantities.set(sku, (quantities.get(sku) ?? 0) + quantity);
  const canonical = {
    customer: { email: request.customer.email, name: request.customer.name ?? null },
    items: [...quantities].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([sku, quantity]) => ({ sku, quantity })),
    paymentMethodId: request.paymentMethodId,
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
