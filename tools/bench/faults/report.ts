import fs from 'node:fs/promises';
import path from 'node:path';
import type { BalancerStats } from './balancer';
import type { UnexpectedExit } from './fault-stack';
import { endStatus, isAccepted, type CheckoutFacts, type InvariantResult, type Offender } from './invariants';
import { summarizeAnswers, type Journey, type ShopperStats } from './shopper';

/** The soak's outcome: the invariants table on stdout, everything (offenders in full) in a JSON file. */

export interface ScenarioRecord {
  name: string;
  round: number;
  from: string;
  to: string;
  /** From the end of the fault until every process ran and every API instance was ready again. */
  recoveredInMs?: number;
  /** What was still wrong when the recovery wait gave up. */
  problems: string[];
  error?: string;
}

export interface DetailedOffender extends Offender {
  card?: string;
  cancel?: string;
  /** Scenarios that ran while this checkout was open (submitted to ended, or to the end of the run). */
  during?: string[];
  failureCode?: string | null;
  /** What its customer did and saw (the JSON report only). */
  journey?: {
    submittedAt: string;
    postAnswers: string;
    acceptedAt?: string;
    cancel?: Journey['cancel'];
    payment?: Journey['payment'];
    lastStatus?: string;
    endedAt?: string;
  };
}

export interface ReportedInvariant extends Omit<InvariantResult, 'offenders'> {
  offenders: DetailedOffender[];
}

export interface Observations {
  outcomes: Record<string, Record<string, number>>;
  failureCodes: Record<string, number>;
  cancelAnswers: Record<string, number>;
  /** Cancels the API accepted (202) for a checkout that then ended otherwise than CANCELLED. */
  acceptedCancelsNotCancelled: Array<{ checkoutId: string; ended: string; failureCode: string | null }>;
  unexpectedExits: UnexpectedExit[];
  /**
   * Stripe events recorded whose routing never finished (outcome left `processing` or `failed`):
   * the API died between recording and routing, and a redelivery is answered "already seen".
   */
  unroutedWebhooks: Array<{ checkoutId: string; events: string[]; checkoutEnded: string }>;
  /** order.confirmed ids with more than one record on the topic (consumers drop all but the first). */
  resentOrderConfirmed: Array<{ checkoutId: string; copies: number; identical: boolean }>;
  /** Customers whose checkout the service never took on. */
  neverAccepted: Array<{ email: string; checkoutId?: string; why: string }>;
  postAnswers: Record<string, number>;
  balancer: BalancerStats;
  kafka: { recordsRead: number; unparseable: number };
}

export interface FaultsReport {
  runId: string;
  seed: number;
  startedAt: string;
  finishedAt?: string;
  durationS?: number;
  options: Record<string, unknown>;
  /** Saga timings and other service variables the run set. */
  serviceEnv: Record<string, string>;
  machine: { cpus: number; loadBefore: number[]; loadAfter?: number[] };
  stateDir?: string;
  scenarios: ScenarioRecord[];
  traffic?: ShopperStats;
  invariants: ReportedInvariant[];
  observations?: Observations;
  passed: boolean;
  error?: string;
}

export function detailOffenders(invariant: InvariantResult, checkouts: readonly CheckoutFacts[], scenarios: readonly ScenarioRecord[], runEnd: string): ReportedInvariant {
  const byId = new Map(checkouts.map((c) => [c.checkoutId, c]));
  return {
    ...invariant,
    offenders: invariant.offenders.map((o) => {
      const c = byId.get(o.subject);
      if (!c) return o;
      const from = c.journey?.submittedAt ?? c.row.createdAt;
      const to = c.journey?.endedAt ?? runEnd;
      const during = scenarios.filter((s) => s.from <= to && s.to >= from).map((s) => s.name);
      const j = c.journey;
      return {
        ...o,
        ...(j ? { card: j.plan.card, cancel: j.plan.cancel } : {}),
        during,
        failureCode: c.row.failureCode,
        ...(j
          ? {
              journey: {
                submittedAt: j.submittedAt,
                postAnswers: summarizeAnswers(j.postAnswers),
                ...(j.acceptedAt ? { acceptedAt: j.acceptedAt } : {}),
                ...(j.cancel ? { cancel: j.cancel } : {}),
                ...(j.payment ? { payment: j.payment } : {}),
                ...(j.lastStatus ? { lastStatus: j.lastStatus } : {}),
                ...(j.endedAt ? { endedAt: j.endedAt } : {}),
              },
            }
          : {}),
      };
    }),
  };
}

export function observe(
  checkouts: readonly CheckoutFacts[],
  journeys: ReadonlyArray<{ email: string; checkoutId?: string; gaveUp?: string; cancel?: { answer: number | string } }>,
  extra: { unexpectedExits: UnexpectedExit[]; balancer: BalancerStats; kafka: { recordsRead: number; unparseable: number }; postAnswers: Record<string, number> },
): Observations {
  const outcomes: Record<string, Record<string, number>> = {};
  const failureCodes: Record<string, number> = {};
  for (const c of checkouts) {
    if (!isAccepted(c)) continue;
    const plan = c.journey ? `${c.journey.plan.card}${c.journey.plan.cancel === 'none' ? '' : ` + cancel ${c.journey.plan.cancel}`}` : 'unknown customer';
    const end = endStatus(c);
    outcomes[plan] ??= {};
    outcomes[plan][end] = (outcomes[plan][end] ?? 0) + 1;
    if (c.row.failureCode) failureCodes[c.row.failureCode] = (failureCodes[c.row.failureCode] ?? 0) + 1;
  }
  const cancelAnswers: Record<string, number> = {};
  for (const j of journeys) if (j.cancel) cancelAnswers[String(j.cancel.answer)] = (cancelAnswers[String(j.cancel.answer)] ?? 0) + 1;
  const accepted = new Set(checkouts.filter(isAccepted).map((c) => c.checkoutId));
  return {
    outcomes,
    failureCodes,
    cancelAnswers,
    acceptedCancelsNotCancelled: checkouts
      .filter((c) => c.journey?.cancel?.answer === 202 && endStatus(c) !== 'CANCELLED')
      .map((c) => ({ checkoutId: c.checkoutId, ended: endStatus(c), failureCode: c.row.failureCode })),
    unexpectedExits: extra.unexpectedExits,
    unroutedWebhooks: checkouts
      .filter((c) => c.unroutedWebhooks.length)
      .map((c) => ({ checkoutId: c.checkoutId, events: c.unroutedWebhooks.map((e) => `${e.type} ${e.id} (${e.outcome})`), checkoutEnded: endStatus(c) })),
    resentOrderConfirmed: checkouts.flatMap((c) => c.orderConfirmed.filter((e) => e.copies > 1).map((e) => ({ checkoutId: c.checkoutId, copies: e.copies, identical: e.distinctValues === 1 }))),
    neverAccepted: journeys
      .filter((j) => j.gaveUp && !(j.checkoutId && accepted.has(j.checkoutId)))
      .map((j) => ({ email: j.email, ...(j.checkoutId ? { checkoutId: j.checkoutId } : {}), why: j.gaveUp! })),
    postAnswers: extra.postAnswers,
    balancer: extra.balancer,
    kafka: extra.kafka,
  };
}

const MAX_LISTED = 15;

export function formatInvariants(invariants: readonly ReportedInvariant[]): string {
  const width = Math.max(...invariants.map((i) => i.name.length), 'invariant'.length);
  const lines = [`${'invariant'.padEnd(width)}  ${'checked'.padStart(7)}  result`, `${'-'.repeat(width)}  ${'-'.repeat(7)}  ------`];
  for (const inv of invariants) {
    lines.push(`${inv.name.padEnd(width)}  ${String(inv.checked).padStart(7)}  ${inv.passed ? 'pass' : `FAIL (${inv.offenders.length})`}`);
    for (const o of inv.offenders.slice(0, MAX_LISTED)) {
      const context = [o.card ? `${o.card}${o.cancel && o.cancel !== 'none' ? `, cancel ${o.cancel}` : ''}` : '', o.failureCode ? `code ${o.failureCode}` : '', o.during?.length ? `during ${o.during.join(', ')}` : '']
        .filter(Boolean)
        .join('; ');
      lines.push(`    ${o.subject}  ${o.detail}${context ? `  [${context}]` : ''}`);
    }
    if (inv.offenders.length > MAX_LISTED) lines.push(`    ... and ${inv.offenders.length - MAX_LISTED} more (all in the JSON report)`);
  }
  return lines.join('\n');
}

export function formatObservations(o: Observations): string {
  const lines: string[] = ['Outcomes by customer (card + cancel) -> how the checkout ended:'];
  for (const [plan, ends] of Object.entries(o.outcomes).sort()) {
    lines.push(`  ${plan.padEnd(42)} ${Object.entries(ends).map(([end, n]) => `${end} ${n}`).join(', ')}`);
  }
  lines.push(`Failure codes: ${Object.entries(o.failureCodes).map(([code, n]) => `${code} ${n}`).join(', ') || 'none'}`);
  lines.push(`Cancel answers: ${Object.entries(o.cancelAnswers).map(([answer, n]) => `${answer} x${n}`).join(', ') || 'no cancels'}`);
  lines.push(`Cancels accepted (202) whose checkout did not end CANCELLED: ${o.acceptedCancelsNotCancelled.length}`);
  for (const c of o.acceptedCancelsNotCancelled.slice(0, MAX_LISTED)) lines.push(`  ${c.checkoutId}: ${c.ended}${c.failureCode ? ` (${c.failureCode})` : ''}`);
  lines.push(`Processes that exited without being killed: ${o.unexpectedExits.length ? '' : 'none'}`);
  for (const e of o.unexpectedExits) lines.push(`  ${e.at} ${e.process} (${e.how}): ${e.lastLogLine}`);
  lines.push(`Stripe events recorded whose routing never finished (the API died in between): ${o.unroutedWebhooks.length}`);
  for (const w of o.unroutedWebhooks.slice(0, MAX_LISTED)) lines.push(`  ${w.checkoutId} (ended ${w.checkoutEnded}): ${w.events.join('; ')}`);
  const identical = o.resentOrderConfirmed.filter((r) => r.identical).length;
  lines.push(`order.confirmed ids with more than one record on the topic: ${o.resentOrderConfirmed.length} (${identical} as identical copies, ${o.resentOrderConfirmed.length - identical} differing)`);
  lines.push(`POST /api/checkouts answers: ${Object.entries(o.postAnswers).sort((a, b) => b[1] - a[1]).map(([a, n]) => `${a} x${n}`).join(', ')}`);
  lines.push(`Customers never accepted (gave up): ${o.neverAccepted.length}`);
  for (const n of o.neverAccepted.slice(0, MAX_LISTED)) lines.push(`  ${n.email}: ${n.why}`);
  lines.push(
    `Load balancer: ${o.balancer.requests} requests, ${o.balancer.failovers} moved to the other instance, answered 502/504 by it: ${Object.entries(o.balancer.failures).map(([b, n]) => `${b} ${n}`).join(', ') || 'none'}`,
  );
  lines.push(`Kafka: ${o.kafka.recordsRead} records read${o.kafka.unparseable ? `, ${o.kafka.unparseable} not JSON` : ''}`);
  return lines.join('\n');
}

export async function writeReport(dir: string, stamp: string, report: FaultsReport): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `faults-${stamp}.json`);
  await fs.writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
