import type { Journey } from './shopper';

/**
 * What must hold over every checkout a soak made, whatever was killed or frozen while it ran.
 * Pure rules over facts gathered afterwards from each system's own record (Stripe's intents,
 * PostgreSQL's rows, Temporal's executions, the Kafka topic), so each rule can be tested with
 * hand-made facts and read on its own.
 */

export interface IntentFacts {
  id: string;
  status: string;
  amount: number;
  currency: string;
  /** Charges Stripe shows as succeeded on this intent. */
  succeededCharges: number;
  /** Money taken: the amount of the succeeded charges. */
  captured: number;
  /** Money given back: succeeded refunds. */
  refunded: number;
}

export interface SagaFacts {
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED, ... */
  execution: string;
  /** The saga's own status (search attribute CheckoutStatus). */
  checkoutStatus?: string;
}

export interface OrderConfirmedFacts {
  /** CloudEvent id. */
  id: string;
  /** Records on the topic with this id. */
  copies: number;
  /** Different record values among them: more than one is two events under one id. */
  distinctValues: number;
  /** Where those values differ (`time`, `data.sequence`, ...). */
  differingFields: string[];
}

export interface CheckoutFacts {
  checkoutId: string;
  orderId: string;
  row: { status: string; failureCode: string | null; createdAt: string; updatedAt: string };
  order?: { status: string; amountMinor: number; currency: string; refundedMinor: number };
  reservation?: { status: string };
  lines: Array<{ sku: string; quantity: number }>;
  /** Absent: Temporal has no workflow `checkout-<id>`. */
  saga?: SagaFacts;
  intents: IntentFacts[];
  orderConfirmed: OrderConfirmedFacts[];
  /** Stripe events recorded for this checkout whose routing never finished (`processing`/`failed`). */
  unroutedWebhooks: Array<{ id: string; type: string; outcome: string }>;
  journey?: Journey;
}

export interface ProductFacts {
  sku: string;
  initialStock: number;
  available: number;
}

export interface SoakFacts {
  checkouts: CheckoutFacts[];
  products: ProductFacts[];
}

export interface Offender {
  /** A checkout id, or a SKU for a per-product rule. */
  subject: string;
  detail: string;
}

export interface InvariantResult {
  name: string;
  rule: string;
  checked: number;
  offenders: Offender[];
  passed: boolean;
}

export const ENDED_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED'];
/** Order statuses that own the money taken for them. */
const PAID_ORDER_STATUSES = ['CONFIRMED', 'PARTIALLY_REFUNDED', 'REFUNDED'];

/** The customer was told 202, or a saga runs for it: either way the service took it on. */
export function isAccepted(c: CheckoutFacts): boolean {
  return c.journey?.checkoutId === c.checkoutId || c.saga !== undefined;
}

/** How the checkout ended, by the saga's own account (or the row, for one cancelled before its saga started). */
export function endStatus(c: CheckoutFacts): string {
  if (!c.saga) return c.row.status === 'CANCELLED' ? 'CANCELLED' : `no saga (row ${c.row.status})`;
  if (c.saga.execution !== 'RUNNING' && c.saga.execution !== 'COMPLETED') return `saga ${c.saga.execution}`;
  return c.saga.checkoutStatus ?? 'unknown';
}

function money(c: CheckoutFacts): { captured: number; refunded: number; charges: number; currency: string } {
  return {
    captured: c.intents.reduce((sum, i) => sum + i.captured, 0),
    refunded: c.intents.reduce((sum, i) => sum + i.refunded, 0),
    charges: c.intents.reduce((sum, i) => sum + i.succeededCharges, 0),
    currency: c.intents[0]?.currency.toUpperCase() ?? '',
  };
}

function result(name: string, rule: string, checked: number, offenders: Offender[]): InvariantResult {
  return { name, rule, checked, offenders, passed: offenders.length === 0 };
}

export function noDoubleCharge(facts: SoakFacts): InvariantResult {
  const paid = facts.checkouts.filter((c) => c.intents.length > 0);
  const offenders = paid
    .filter((c) => money(c).charges > 1)
    .map((c) => ({
      subject: c.checkoutId,
      detail: `${money(c).charges} succeeded charges on ${c.intents.length} intent(s) (${c.intents.map((i) => `${i.id}: ${i.succeededCharges}`).join(', ')}); checkout ${endStatus(c)}`,
    }));
  return result('no double charge', 'at most one succeeded charge per checkout, across all its PaymentIntents (Stripe state)', paid.length, offenders);
}

export function noChargeWithoutOrderOrRefund(facts: SoakFacts): InvariantResult {
  const charged = facts.checkouts.filter((c) => money(c).captured > 0);
  const offenders = charged
    .filter((c) => !PAID_ORDER_STATUSES.includes(c.order?.status ?? '') && money(c).refunded < money(c).captured)
    .map((c) => {
      const m = money(c);
      return { subject: c.checkoutId, detail: `captured ${m.captured} ${m.currency}, refunded ${m.refunded}; order ${c.order?.status ?? 'missing'}, checkout ${endStatus(c)}` };
    });
  return result('no charge without an order or a full refund', 'money captured at Stripe belongs to a confirmed order, or was refunded in full', charged.length, offenders);
}

export function confirmedOrdersArePaid(facts: SoakFacts): InvariantResult {
  const confirmed = facts.checkouts.filter((c) => c.order?.status === 'CONFIRMED');
  const offenders = confirmed
    .filter((c) => money(c).captured - money(c).refunded !== c.order!.amountMinor)
    .map((c) => {
      const m = money(c);
      return { subject: c.checkoutId, detail: `order of ${c.order!.amountMinor} ${c.order!.currency}: captured ${m.captured}, refunded ${m.refunded} at Stripe` };
    });
  return result('every confirmed order holds its money', 'an order CONFIRMED has exactly its amount captured at Stripe, none of it refunded', confirmed.length, offenders);
}

/** Units each SKU sold (reservations consumed by a confirmed order) and still holds (reserved). */
function stockUse(facts: SoakFacts): Map<string, { sold: number; held: number }> {
  const use = new Map(facts.products.map((p) => [p.sku, { sold: 0, held: 0 }]));
  for (const c of facts.checkouts) {
    const status = c.reservation?.status;
    if (status !== 'CONSUMED' && status !== 'RESERVED') continue;
    for (const line of c.lines) {
      const u = use.get(line.sku);
      if (!u) continue;
      if (status === 'CONSUMED') u.sold += line.quantity;
      else u.held += line.quantity;
    }
  }
  return use;
}

export function noOversell(facts: SoakFacts): InvariantResult {
  const use = stockUse(facts);
  const offenders: Offender[] = [];
  for (const p of facts.products) {
    const { sold } = use.get(p.sku)!;
    if (p.available < 0) offenders.push({ subject: p.sku, detail: `stock is ${p.available}` });
    if (sold > p.initialStock) offenders.push({ subject: p.sku, detail: `sold ${sold} of an initial stock of ${p.initialStock}` });
  }
  return result('no oversell', 'per SKU: stock never negative, units sold <= initial stock', facts.products.length, offenders);
}

export function everyUnitAccountedFor(facts: SoakFacts): InvariantResult {
  const use = stockUse(facts);
  const offenders: Offender[] = [];
  for (const p of facts.products) {
    const { sold, held } = use.get(p.sku)!;
    if (p.available + sold + held !== p.initialStock) {
      offenders.push({ subject: p.sku, detail: `initial ${p.initialStock} != available ${p.available} + sold ${sold} + reserved ${held}` });
    }
  }
  const ended = facts.checkouts.filter((c) => isAccepted(c) && ENDED_STATUSES.includes(endStatus(c)));
  for (const c of ended) {
    const end = endStatus(c);
    const reservation = c.reservation?.status ?? 'none';
    const expected = end === 'COMPLETED' ? ['CONSUMED'] : ['RELEASED', 'none'];
    if (!expected.includes(reservation)) offenders.push({ subject: c.checkoutId, detail: `checkout ${end} but its reservation is ${reservation}` });
  }
  return result(
    'every unit accounted for',
    'per SKU: initial = available + sold + reserved; a completed checkout consumed its reservation, a failed or cancelled one released it',
    facts.products.length + ended.length,
    offenders,
  );
}

export function everyAcceptedCheckoutEnded(facts: SoakFacts): InvariantResult {
  const accepted = facts.checkouts.filter(isAccepted);
  const offenders = accepted
    .filter((c) => !ENDED_STATUSES.includes(endStatus(c)) || (c.saga !== undefined && c.saga.execution !== 'COMPLETED'))
    .map((c) => ({ subject: c.checkoutId, detail: c.saga?.execution === 'RUNNING' ? `still ${endStatus(c)} (saga running)` : endStatus(c) }));
  return result('every accepted checkout ended', 'COMPLETED, FAILED or CANCELLED with its saga closed; NEEDS_ATTENTION or still running is a finding', accepted.length, offenders);
}

export function rowAgreesWithSaga(facts: SoakFacts): InvariantResult {
  const known = facts.checkouts.filter((c) => c.saga?.checkoutStatus && (c.saga.execution === 'COMPLETED' || c.saga.checkoutStatus === 'NEEDS_ATTENTION'));
  const offenders = known
    .filter((c) => c.row.status !== c.saga!.checkoutStatus)
    .map((c) => ({ subject: c.checkoutId, detail: `saga ${c.saga!.checkoutStatus}, PostgreSQL row ${c.row.status}` }));
  return result('checkout row agrees with the saga', "the PostgreSQL row (what the status endpoint shows without a worker) holds the saga's end", known.length, offenders);
}

export function orderConfirmedOncePerId(facts: SoakFacts): InvariantResult {
  const offenders: Offender[] = [];
  for (const c of facts.checkouts) {
    const expectedId = `checkout-${c.checkoutId}:order.confirmed`;
    const completed = endStatus(c) === 'COMPLETED';
    if (completed && !c.orderConfirmed.some((e) => e.id === expectedId)) offenders.push({ subject: c.checkoutId, detail: 'completed, but no order.confirmed on the topic' });
    if (!completed && c.orderConfirmed.length > 0) offenders.push({ subject: c.checkoutId, detail: `order.confirmed on the topic, but the checkout is ${endStatus(c)}` });
    for (const e of c.orderConfirmed) {
      if (e.id !== expectedId) offenders.push({ subject: c.checkoutId, detail: `order.confirmed under an unexpected id ${e.id}` });
      if (e.distinctValues > 1) {
        offenders.push({ subject: c.checkoutId, detail: `${e.copies} records share the id ${e.id} and differ in ${e.differingFields.join(', ') || 'their encoding'}` });
      }
    }
  }
  return result(
    'each order.confirmed once per CloudEvent id',
    'a completed checkout has one order.confirmed id (checkout-<id>:order.confirmed) on the topic, every copy of it identical; no other checkout has one',
    facts.checkouts.length,
    offenders,
  );
}

export function checkInvariants(facts: SoakFacts): InvariantResult[] {
  return [
    noDoubleCharge(facts),
    noChargeWithoutOrderOrRefund(facts),
    confirmedOrdersArePaid(facts),
    noOversell(facts),
    everyUnitAccountedFor(facts),
    everyAcceptedCheckoutEnded(facts),
    rowAgreesWithSaga(facts),
    orderConfirmedOncePerId(facts),
  ];
}
