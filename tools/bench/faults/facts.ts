import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import postgres from 'postgres';
import { checkoutWorkflowId, searchAttributes } from '../../../src/workflows/checkout/contract';
import type { SoakProduct } from './fault-stack';
import type { CheckoutFacts, IntentFacts, OrderConfirmedFacts, ProductFacts, SagaFacts, SoakFacts } from './invariants';
import { readWholeTopic } from './kafka-topic';
import type { Journey } from './shopper';

/**
 * Gathers, after the run, what each system itself records about the run's checkouts: PostgreSQL's
 * rows, the Stripe emulator's intents, charges and refunds (its Stripe state), Temporal's
 * executions and the whole `checkout.events` topic. Checkouts are found by the run's customer
 * emails, so one whose POST never got an answer is checked too.
 */

export interface FactSources {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  /** The service's (`temporalDataConverter`), so what the sagas sealed reads as the service reads it. */
  dataConverter: DataConverter;
  taskQueue: string;
  stripeEmulatorUrl: string;
  kafkaBrokers: string[];
  topic: string;
  runId: string;
  catalog: readonly SoakProduct[];
  journeys: readonly Journey[];
}

export interface GatheredFacts extends SoakFacts {
  kafka: { recordsRead: number; unparseable: number };
}

export async function gatherFacts(sources: FactSources, log: (line: string) => void): Promise<GatheredFacts> {
  const sql = postgres(sources.databaseUrl, { max: 2, onnotice: () => {}, connect_timeout: 10 });
  try {
    const rows = await sql<Array<{ id: string; order_id: string; customer_email: string; status: string; failure_code: string | null; created_at: Date; updated_at: Date }>>`
      select id, order_id, customer_email, status, failure_code, created_at, updated_at from checkouts
      where customer_email like ${`faults-${sources.runId}-%`} order by created_at`;
    const ids = rows.map((r) => r.id);
    const orderIds = rows.map((r) => r.order_id);
    const orders = ids.length
      ? await sql<Array<{ checkout_id: string; status: string; amount_minor: number; currency: string; refunded_minor: number }>>`
          select checkout_id, status, amount_minor, currency, refunded_minor from orders where checkout_id in ${sql(ids)}`
      : [];
    const reservations = ids.length ? await sql<Array<{ checkout_id: string; status: string }>>`select checkout_id, status from reservations where checkout_id in ${sql(ids)}` : [];
    const lines = orderIds.length ? await sql<Array<{ order_id: string; sku: string; quantity: number }>>`select order_id, sku, quantity from order_lines where order_id in ${sql(orderIds)}` : [];
    const unrouted = ids.length
      ? await sql<Array<{ id: string; type: string; checkout_id: string; outcome: string }>>`
          select id, type, checkout_id, outcome from stripe_events where checkout_id in ${sql(ids)} and outcome in ('processing', 'failed')`
      : [];
    const stock = await sql<Array<{ sku: string; stock_available: number }>>`
      select sku, stock_available from products where sku in ${sql(sources.catalog.map((p) => p.sku))}`;
    log(`  PostgreSQL: ${rows.length} checkouts, ${orders.length} orders, ${reservations.length} reservations`);

    const intents = await intentsByCheckout(sources.stripeEmulatorUrl);
    log(`  Stripe emulator: ${[...intents.values()].reduce((n, l) => n + l.length, 0)} PaymentIntents`);
    const sagas = await sagasByCheckout(sources, ids);
    log(`  Temporal: ${sagas.size} checkout workflows`);
    const topic = await orderConfirmedByCheckout(sources.kafkaBrokers, sources.topic);
    log(`  Kafka: ${topic.recordsRead} records read from ${sources.topic}`);

    const journeyOf = new Map(sources.journeys.filter((j) => j.checkoutId).map((j) => [j.checkoutId!, j]));
    const journeyByEmail = new Map(sources.journeys.map((j) => [j.email, j]));
    const byCheckout = <T extends { checkout_id: string }>(list: readonly T[]) => {
      const map = new Map<string, T[]>();
      for (const item of list) map.set(item.checkout_id, [...(map.get(item.checkout_id) ?? []), item]);
      return map;
    };
    const orderOf = byCheckout(orders);
    const reservationOf = byCheckout(reservations);
    const unroutedOf = byCheckout(unrouted);
    const linesOf = new Map<string, Array<{ sku: string; quantity: number }>>();
    for (const l of lines) linesOf.set(l.order_id, [...(linesOf.get(l.order_id) ?? []), { sku: l.sku, quantity: l.quantity }]);

    const checkouts: CheckoutFacts[] = rows.map((r) => {
      const order = orderOf.get(r.id)?.[0];
      const reservation = reservationOf.get(r.id)?.[0];
      const saga = sagas.get(r.id);
      const journey = journeyOf.get(r.id) ?? journeyByEmail.get(r.customer_email);
      return {
        checkoutId: r.id,
        orderId: r.order_id,
        row: { status: r.status, failureCode: r.failure_code, createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString() },
        ...(order ? { order: { status: order.status, amountMinor: order.amount_minor, currency: order.currency, refundedMinor: order.refunded_minor } } : {}),
        ...(reservation ? { reservation: { status: reservation.status } } : {}),
        lines: linesOf.get(r.order_id) ?? [],
        ...(saga ? { saga } : {}),
        intents: intents.get(r.id) ?? [],
        orderConfirmed: topic.byCheckout.get(r.id) ?? [],
        unroutedWebhooks: (unroutedOf.get(r.id) ?? []).map((e) => ({ id: e.id, type: e.type, outcome: e.outcome })),
        ...(journey ? { journey } : {}),
      };
    });
    const available = new Map(stock.map((s) => [s.sku, s.stock_available]));
    const products: ProductFacts[] = sources.catalog.map((p) => ({ sku: p.sku, initialStock: p.initialStock, available: available.get(p.sku) ?? Number.NaN }));
    return { checkouts, products, kafka: { recordsRead: topic.recordsRead, unparseable: topic.unparseable } };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

interface EmulatorIntent {
  id: string;
  status: string;
  amount: number;
  currency: string;
  metadata: Record<string, string> | null;
  charges: Array<{ status: string; amount: number }>;
  refunds: Array<{ status: string; amount: number }>;
}

/** The emulator's whole account in one read: every intent with its charges and refunds. */
async function intentsByCheckout(emulatorUrl: string): Promise<Map<string, IntentFacts[]>> {
  const res = await fetch(`${emulatorUrl}/_emulator/state`, { signal: AbortSignal.timeout(60_000) });
  if (!res.ok) throw new Error(`the Stripe emulator's state answered ${res.status}`);
  const state = (await res.json()) as { paymentIntents: EmulatorIntent[] };
  const byCheckout = new Map<string, IntentFacts[]>();
  for (const pi of state.paymentIntents) {
    const checkoutId = pi.metadata?.checkoutId;
    if (!checkoutId) continue;
    const succeeded = pi.charges.filter((c) => c.status === 'succeeded');
    const facts: IntentFacts = {
      id: pi.id,
      status: pi.status,
      amount: pi.amount,
      currency: pi.currency,
      succeededCharges: succeeded.length,
      captured: succeeded.reduce((sum, c) => sum + c.amount, 0),
      refunded: pi.refunds.filter((r) => r.status === 'succeeded').reduce((sum, r) => sum + r.amount, 0),
    };
    byCheckout.set(checkoutId, [...(byCheckout.get(checkoutId) ?? []), facts]);
  }
  return byCheckout;
}

/**
 * Every checkout workflow of the run's task queue from visibility in one listing, then a describe
 * for each checkout visibility did not show as closed: the list may lag a moment behind.
 */
async function sagasByCheckout(sources: FactSources, checkoutIds: readonly string[]): Promise<Map<string, SagaFacts>> {
  const connection = await Connection.connect({ address: sources.temporalAddress });
  try {
    const client = new Client({ connection, namespace: sources.namespace, dataConverter: sources.dataConverter });
    const sagas = new Map<string, SagaFacts>();
    const prefix = 'checkout-';
    for await (const info of client.workflow.list({ query: `TaskQueue = "${sources.taskQueue}" AND WorkflowType = "CheckoutWorkflow"` })) {
      if (!info.workflowId.startsWith(prefix)) continue;
      const status = info.typedSearchAttributes.get(searchAttributes.status);
      sagas.set(info.workflowId.slice(prefix.length), { execution: info.status.name, ...(status ? { checkoutStatus: status } : {}) });
    }
    const unsure = checkoutIds.filter((id) => sagas.get(id)?.execution !== 'COMPLETED');
    for (let i = 0; i < unsure.length; i += 8) {
      await Promise.all(
        unsure.slice(i, i + 8).map(async (id) => {
          try {
            const info = await client.workflow.getHandle(checkoutWorkflowId(id)).describe();
            const status = info.typedSearchAttributes.get(searchAttributes.status);
            sagas.set(id, { execution: info.status.name, ...(status ? { checkoutStatus: status } : {}) });
          } catch (err) {
            if (!(err instanceof WorkflowNotFoundError)) throw err;
            sagas.delete(id);
          }
        }),
      );
    }
    return sagas;
  } finally {
    await connection.close();
  }
}

async function orderConfirmedByCheckout(brokers: string[], topic: string): Promise<{ byCheckout: Map<string, OrderConfirmedFacts[]>; recordsRead: number; unparseable: number }> {
  const records = await readWholeTopic(brokers, topic);
  const values = new Map<string, { checkoutId: string; values: string[] }>();
  let unparseable = 0;
  for (const record of records) {
    let event: { id?: string; type?: string; data?: { checkoutId?: string } };
    try {
      event = JSON.parse(record.value ?? '') as typeof event;
    } catch {
      unparseable++;
      continue;
    }
    if (event.type !== 'order.confirmed' || !event.id || !event.data?.checkoutId) continue;
    const entry = values.get(event.id) ?? { checkoutId: event.data.checkoutId, values: [] };
    entry.values.push(record.value!);
    values.set(event.id, entry);
  }
  const byCheckout = new Map<string, OrderConfirmedFacts[]>();
  for (const [id, { checkoutId, values: copies }] of values) {
    const distinct = [...new Set(copies)];
    const facts: OrderConfirmedFacts = { id, copies: copies.length, distinctValues: distinct.length, differingFields: differingFields(distinct) };
    byCheckout.set(checkoutId, [...(byCheckout.get(checkoutId) ?? []), facts]);
  }
  return { byCheckout, recordsRead: records.length, unparseable };
}

/** The fields (top level and inside `data`) whose values are not the same in every one of `values`. */
export function differingFields(values: readonly string[]): string[] {
  if (values.length < 2) return [];
  const parsed = values.map((v) => JSON.parse(v) as Record<string, unknown>);
  const flat = parsed.map((event) => {
    const fields = new Map<string, string>();
    for (const [key, value] of Object.entries(event)) {
      if (key === 'data' && value && typeof value === 'object') {
        for (const [dataKey, dataValue] of Object.entries(value)) fields.set(`data.${dataKey}`, JSON.stringify(dataValue));
      } else {
        fields.set(key, JSON.stringify(value));
      }
    }
    return fields;
  });
  const names = new Set(flat.flatMap((f) => [...f.keys()]));
  return [...names].filter((name) => new Set(flat.map((f) => f.get(name))).size > 1).sort();
}
