import { eq, or } from 'drizzle-orm';
import { checkouts } from '../../../db/schema';
import type { Database } from '../../../db/client';
import { checkoutIdFromWorkflowId } from '../../workflows/checkout/contract';
import { CheckoutNotFoundError } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The checkout an operator means. They hold whichever id the customer, the Web UI or a ticket gave
 * them: the checkout's, its workflow's `checkout-<id>`, or its order's. Checkout and order ids are
 * both UUIDs and never collide, so one lookup answers either.
 */
export async function findCheckoutId(db: Database, reference: string): Promise<string> {
  const trimmed = reference.trim();
  const id = (checkoutIdFromWorkflowId(trimmed) ?? trimmed).toLowerCase();
  if (!UUID.test(id)) throw new CheckoutNotFoundError();
  const [row] = await db
    .select({ id: checkouts.id })
    .from(checkouts)
    .where(or(eq(checkouts.id, id), eq(checkouts.orderId, id)));
  if (!row) throw new CheckoutNotFoundError(id);
  return row.id;
}
