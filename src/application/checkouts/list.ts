import type { Client } from '@temporalio/client';
import { inArray } from 'drizzle-orm';
import { checkouts } from '../../../db/schema';
import type { Database } from '../../../db/client';
import type { Config } from '../../config';
import { customerEmailHash } from '../../temporal/customer-email-hash';
import {
  CHECKOUT_WORKFLOW_TYPE,
  checkoutIdFromWorkflowId,
  searchAttributes,
  type CheckoutStatus,
} from '../../workflows/checkout/contract';
import { rethrowTemporalUnavailable } from '../temporal-errors';

export interface ListFilters {
  status?: CheckoutStatus;
  /** The customer's address: visibility holds only its keyed hash, so the query filters on that. */
  email?: string;
}

export interface ListedCheckout {
  checkoutId: string;
  workflowId: string;
  status: string | null;
  step: string | null;
  /** From the checkouts row in PostgreSQL (visibility holds only a hash of it); null when that is unavailable. */
  customerEmail: string | null;
  amount: number | null;
  currency: string | null;
  startTime: string;
  closeTime: string | null;
}

export interface CheckoutList {
  /** The visibility query the Web UI would run for the same filters, so an operator can paste it there. */
  query: string;
  /** Newest first. */
  checkouts: ListedCheckout[];
}

/**
 * Every filter value lands between double quotes in the query: callers refuse quotes and backslashes
 * in the status; the email becomes its hash (hex), which holds neither.
 */
export function checkoutListQuery(cfg: Pick<Config, 'CUSTOMER_EMAIL_HASH_KEY'>, filters: ListFilters): string {
  return [
    `WorkflowType = "${CHECKOUT_WORKFLOW_TYPE}"`,
    ...(filters.status ? [`${searchAttributes.status.name} = "${filters.status}"`] : []),
    ...(filters.email ? [`${searchAttributes.customerEmail.name} = "${customerEmailHash(cfg, filters.email)}"`] : []),
  ].join(' AND ');
}

/** Checkouts from Temporal visibility (the search attributes the Web UI filters on), at most `limit`. */
export async function listCheckouts(
  deps: { temporal: Client; db: Database; config: Pick<Config, 'CUSTOMER_EMAIL_HASH_KEY'> },
  filters: ListFilters,
  limit: number,
): Promise<CheckoutList> {
  const query = checkoutListQuery(deps.config, filters);
  const found: ListedCheckout[] = [];
  try {
    for await (const execution of deps.temporal.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
      const sa = execution.typedSearchAttributes;
      found.push({
        checkoutId: checkoutIdFromWorkflowId(execution.workflowId) ?? execution.workflowId,
        workflowId: execution.workflowId,
        status: sa.get(searchAttributes.status) ?? null,
        step: sa.get(searchAttributes.step) ?? null,
        customerEmail: null,
        amount: sa.get(searchAttributes.orderTotal) ?? null,
        currency: null,
        startTime: execution.startTime.toISOString(),
        closeTime: execution.closeTime?.toISOString() ?? null,
      });
      if (found.length >= limit) break;
    }
  } catch (err) {
    rethrowTemporalUnavailable(err);
  }
  await addRowFacts(deps.db, found);
  return { query, checkouts: found };
}

/**
 * What visibility does not hold in clear, from the checkouts table: the currency (OrderTotal is minor
 * units without one) and the customer's email (CustomerEmail is its hash). Best effort: the list
 * still shows without them.
 */
async function addRowFacts(db: Database, found: ListedCheckout[]): Promise<void> {
  const ids = found.map((c) => c.checkoutId).filter((id) => /^[0-9a-f-]{36}$/i.test(id));
  if (ids.length === 0) return;
  try {
    const rows = await db.select({ id: checkouts.id, currency: checkouts.currency, customerEmail: checkouts.customerEmail }).from(checkouts).where(inArray(checkouts.id, ids));
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const c of found) {
      c.currency = byId.get(c.checkoutId)?.currency ?? null;
      c.customerEmail = byId.get(c.checkoutId)?.customerEmail ?? null;
    }
  } catch {
    // PostgreSQL unreachable: the list itself came from Temporal and is still worth showing.
  }
}
