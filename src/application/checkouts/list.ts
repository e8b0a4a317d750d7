import type { Client } from '@temporalio/client';
import { inArray } from 'drizzle-orm';
import { checkouts } from '../../../db/schema';
import type { Database } from '../../../db/client';
import {
  CHECKOUT_WORKFLOW_TYPE,
  checkoutIdFromWorkflowId,
  searchAttributes,
  type CheckoutStatus,
} from '../../workflows/checkout/contract';
import { rethrowTemporalUnavailable } from '../temporal-errors';

export interface ListFilters {
  status?: CheckoutStatus;
  email?: string;
}

export interface ListedCheckout {
  checkoutId: string;
  workflowId: string;
  status: string | null;
  step: string | null;
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

/** Every filter value lands between double quotes in the query: callers refuse quotes and backslashes in them. */
export function checkoutListQuery(filters: ListFilters): string {
  return [
    `WorkflowType = "${CHECKOUT_WORKFLOW_TYPE}"`,
    ...(filters.status ? [`${searchAttributes.status.name} = "${filters.status}"`] : []),
    ...(filters.email ? [`${searchAttributes.customerEmail.name} = "${filters.email}"`] : []),
  ].join(' AND ');
}

/** Checkouts from Temporal visibility (the search attributes the Web UI filters on), at most `limit`. */
export async function listCheckouts(deps: { temporal: Client; db: Database }, filters: ListFilters, limit: number): Promise<CheckoutList> {
  const query = checkoutListQuery(filters);
  const found: ListedCheckout[] = [];
  try {
    for await (const execution of deps.temporal.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
      const sa = execution.typedSearchAttributes;
      found.push({
        checkoutId: checkoutIdFromWorkflowId(execution.workflowId) ?? execution.workflowId,
        workflowId: execution.workflowId,
        status: sa.get(searchAttributes.status) ?? null,
        step: sa.get(searchAttributes.step) ?? null,
        customerEmail: sa.get(searchAttributes.customerEmail) ?? null,
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
  await addCurrencies(deps.db, found);
  return { query, checkouts: found };
}

/** OrderTotal is minor units without a currency; the checkouts table has it. Best effort: a total without it still shows. */
async function addCurrencies(db: Database, found: ListedCheckout[]): Promise<void> {
  const ids = found.map((c) => c.checkoutId).filter((id) => /^[0-9a-f-]{36}$/i.test(id));
  if (ids.length === 0) return;
  try {
    const rows = await db.select({ id: checkouts.id, currency: checkouts.currency }).from(checkouts).where(inArray(checkouts.id, ids));
    const byId = new Map(rows.map((r) => [r.id, r.currency]));
    for (const c of found) c.currency = byId.get(c.checkoutId) ?? null;
  } catch {
    // PostgreSQL unreachable: the list itself came from Temporal and is still worth showing.
  }
}
