import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { eq, inArray } from 'drizzle-orm';
import { checkoutStatusChanges, checkouts } from '../../db/schema';
import type { Database } from '../../db/client';
import { DEFAULT_CHECKOUT_TIMEOUTS, type CheckoutDeps } from '../../src/application/checkouts/deps';
import type { StartCheckoutRequest } from '../../src/application/checkouts/schemas';
import { startCheckout } from '../../src/application/checkouts/start';
import type { Config } from '../../src/config';
import { logger } from '../../src/logger';
import { checkoutWorkflowId, type CheckoutResult } from '../../src/workflows/checkout/contract';
import type { CheckoutWorkflow } from '../../src/workflows/checkout/workflow';
import type { BenchStack } from './bench-stack';
import type { CheckoutCustomer, CheckoutTrace, FollowMode } from './checkout-client';
import type { KafkaOutcomeProbe } from './kafka-probe';
import { runOpenLoop, settleWithin, sleep, startClosedLoop } from './load';
import { OTHER_LABEL, type ProcSampler } from './proc-sampler';
import { ratePerSecond, round, summarize, type RateSeries, type Summary } from './stats';

/** Durations and sizes of one run; `--quick` scales them down to a smoke run. */
export interface BenchPlan {
  warmup: number;
  rampSteps: number[];
  /** A ramp step lasts three saga latencies, within these bounds. */
  rampStepMs: number;
  rampStepMaxMs: number;
  settleMs: number;
  measureMs: number;
  openRates: number[];
  openMs: number;
  /** How long open-loop checkouts may take to finish after the schedule ended. */
  openTailMs: number;
  overloadFactor: number;
  overloadMs: number;
  /** Bound on the wait for every accepted overload checkout to finish. */
  drainMs: number;
  /** Skip the ramp and use this many closed-loop clients. */
  concurrency?: number;
}

export const DEFAULT_PLAN: BenchPlan = {
  warmup: 12,
  rampSteps: [4, 8, 16, 32, 64, 128],
  rampStepMs: 3_000,
  rampStepMaxMs: 12_000,
  settleMs: 3_000,
  measureMs: 15_000,
  openRates: [10, 20],
  openMs: 60_000,
  openTailMs: 10_000,
  overloadFactor: 2,
  overloadMs: 30_000,
  drainMs: 45_000,
};

export const QUICK_PLAN: BenchPlan = {
  warmup: 5,
  rampSteps: [8, 32],
  rampStepMs: 2_000,
  rampStepMaxMs: 4_000,
  settleMs: 1_500,
  measureMs: 5_000,
  openRates: [10, 20],
  openMs: 5_000,
  openTailMs: 5_000,
  overloadFactor: 2,
  overloadMs: 5_000,
  drainMs: 15_000,
};

export interface PhaseMark {
  phase: string;
  fromS: number;
  toS: number;
}

export interface BenchContext {
  bench: BenchStack;
  customer: CheckoutCustomer;
  sampler: ProcSampler;
  /** performance.now() when the run started: time zero of every chart. */
  origin: number;
  completed: RateSeries;
  offered: RateSeries;
  marks: PhaseMark[];
  plan: BenchPlan;
  runId: string;
  log(line: string): void;
}

/** Runs `fn` as a named phase: the sampler tags its samples, the charts shade its time. */
export async function phase<T>(ctx: BenchContext, name: string, fn: () => Promise<T>): Promise<T> {
  const from = (performance.now() - ctx.origin) / 1000;
  ctx.sampler.phase = name;
  ctx.log(`▶ ${name}`);
  try {
    return await fn();
  } finally {
    ctx.marks.push({ phase: name, fromS: round(from, 1), toS: round((performance.now() - ctx.origin) / 1000, 1) });
    ctx.sampler.phase = 'between';
  }
}

// ---------------------------------------------------------------------------------------------
// Closed loop at saturation (ceiling and checkouts)

export interface SaturationResult {
  ramp: Array<{ concurrency: number; perSecond: number }>;
  concurrency: number;
  /** Completed per second over the measurement window. */
  perSecond: number;
  windowS: number;
  completed: number;
  failed: number;
  /** POSTs in the window the API shed with Retry-After (CHECKOUT_MAX_IN_FLIGHT reached). */
  shed: number;
  /** Start to finish of one saga in the window (closed loop: not a user latency). */
  latencyMs: Summary;
  /** Mean CPU (% of a core) of each process over the measurement window. */
  cpu: Record<string, number>;
  /**
   * CPU time all our processes spent per completed saga in the window (ms), the load generator
   * and other people's processes left out: on a CPU-bound machine this, not the rate, is the
   * steadier figure to compare two settings by.
   */
  cpuMsPerCompleted: number;
  errors: string[];
}

interface Recorder {
  done: number[];
  latencies: Array<{ at: number; ms: number }>;
  failed: number[];
  /** When a POST was shed (503/429 with Retry-After): the client waited as told, not an error. */
  shed: number[];
  errors: string[];
}

function recorder(): Recorder {
  return { done: [], latencies: [], failed: [], shed: [], errors: [] };
}

function noteError(rec: Recorder, err: unknown): void {
  rec.failed.push(performance.now());
  if (rec.errors.length < 5) rec.errors.push(err instanceof Error ? err.message : String(err));
}

/**
 * Finds the concurrency at which throughput stops growing (a short ramp: each step's rate over its
 * last part), then measures completed/s at that concurrency over a longer window. The smallest
 * concurrency within 8% of the best step wins: past the knee, more clients only add queueing.
 */
async function saturate(ctx: BenchContext, label: string, rec: Recorder, iteration: () => Promise<void>): Promise<SaturationResult> {
  const { plan } = ctx;
  const steps = plan.concurrency ? [plan.concurrency] : [...plan.rampSteps];
  const loop = startClosedLoop(iteration, steps[0]!, (err) => noteError(rec, err));
  const ramp: SaturationResult['ramp'] = [];
  try {
    if (!plan.concurrency) {
      for (const c of steps) {
        loop.setConcurrency(c);
        // A step must outlast a few sagas, or it only sees the clients it started with: three
        // times the latency of the last step, within the plan's bounds; counted over its last 2/3.
        const recent = rec.latencies.slice(-Math.max(5, c)).map((l) => l.ms);
        const stepMs = Math.min(plan.rampStepMaxMs, Math.max(plan.rampStepMs, 3 * (summarize(recent).p50 || 0)));
        const stepStart = performance.now();
        await sleep(stepMs);
        const perSecond = ratePerSecond(rec.done, stepStart + stepMs / 3, performance.now());
        const best = Math.max(0, ...ramp.map((r) => r.perSecond));
        ramp.push({ concurrency: c, perSecond: round(perSecond, 1) });
        ctx.log(`  ${label} ramp: ${String(c).padStart(3)} clients -> ${perSecond.toFixed(1)}/s (${(stepMs / 1000).toFixed(0)} s step)`);
        // Past the knee: doubling the clients no longer buys 10% more.
        if (ramp.length >= 2 && perSecond < 1.1 * best) break;
      }
    }
    const best = Math.max(0, ...ramp.map((r) => r.perSecond));
    const chosen = plan.concurrency ?? ramp.find((r) => r.perSecond >= 0.92 * best)?.concurrency ?? steps[0]!;
    loop.setConcurrency(chosen);
    await sleep(plan.settleMs);
    const from = performance.now();
    const doneBefore = rec.done.filter((t) => t < from).length;
    let nextNotice = from + 5_000;
    while (performance.now() - from < plan.measureMs) {
      await sleep(Math.min(500, plan.measureMs - (performance.now() - from)));
      if (performance.now() >= nextNotice) {
        ctx.log(`  ${label} at ${chosen} clients: ${ratePerSecond(rec.done, from, performance.now()).toFixed(1)}/s so far`);
        nextNotice += 5_000;
      }
    }
    const to = performance.now();
    const perSecond = ratePerSecond(rec.done, from, to);
    const cpu = ctx.sampler.summaryBetween((from - ctx.origin) / 1000, (to - ctx.origin) / 1000);
    const serviceCpu = Object.entries(cpu).filter(([label]) => label !== OTHER_LABEL && !label.startsWith('bench'));
    const cpuPct = serviceCpu.reduce((sum, [, v]) => sum + v.cpuMean, 0);
    const inWindow = rec.latencies.filter((l) => l.at >= from && l.at < to).map((l) => l.ms);
    ctx.log(`  ${label}: ${perSecond.toFixed(1)}/s at ${chosen} clients, ${perSecond > 0 ? ((cpuPct * 10) / perSecond).toFixed(0) : '?'} ms of CPU per completed (all our processes)`);
    return {
      ramp,
      concurrency: chosen,
      perSecond: round(perSecond, 2),
      windowS: round((to - from) / 1000, 1),
      completed: rec.done.length - doneBefore - rec.done.filter((t) => t >= to).length,
      failed: rec.failed.filter((t) => t >= from && t < to).length,
      shed: rec.shed.filter((t) => t >= from && t < to).length,
      latencyMs: summarize(inWindow),
      cpu: Object.fromEntries(Object.entries(cpu).map(([label, v]) => [label, round(v.cpuMean, 0)])),
      cpuMsPerCompleted: perSecond > 0 ? round((cpuPct * 10) / perSecond, 0) : Number.NaN,
      errors: rec.errors,
    };
  } finally {
    const { abandoned } = await loop.stop(60_000);
    if (abandoned > 0) ctx.log(`  ! ${abandoned} ${label} clients still busy after 60 s; moving on`);
  }
}

/** A one-line pm_card_visa cart as a buyer posts it, with the ids the bench follows its saga by. */
export interface BenchCheckout {
  checkoutId: string;
  orderId: string;
  request: StartCheckoutRequest;
}

export function benchCheckoutInput(sku: string, runId: string): BenchCheckout {
  const checkoutId = randomUUID();
  return {
    checkoutId,
    orderId: randomUUID(),
    request: { customer: { email: `empty-${runId}-${checkoutId.slice(0, 8)}@example.com`, name: 'Bench Buyer' }, items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_visa' },
  };
}

/** The start use case's dependencies, pointed at the empty-saga worker's task queue. */
export function emptySagaDeps(service: { db: Database; temporal: Client; config: Config }, taskQueue: string): CheckoutDeps {
  return {
    db: service.db,
    temporal: service.temporal,
    config: { ...service.config, TEMPORAL_TASK_QUEUE: taskQueue },
    logger: logger.child({ component: 'bench-empty-saga' }),
    timeouts: DEFAULT_CHECKOUT_TIMEOUTS,
  };
}

/** One empty saga, started by the service's own start use case (row, then workflow) as the API starts a checkout, awaited to its result. */
export async function runEmptySaga(deps: CheckoutDeps, checkout: BenchCheckout): Promise<CheckoutResult> {
  const { checkoutId, orderId } = checkout;
  await startCheckout(deps, checkout.request, { ids: { checkoutId, orderId } });
  const result = await deps.temporal.workflow.getHandle<typeof CheckoutWorkflow>(checkoutWorkflowId(checkoutId)).result();
  // The empty saga's activities write nothing: left PENDING, its row would count against
  // CHECKOUT_MAX_IN_FLIGHT and make the API shed the real checkouts of the next phases.
  await deps.db.update(checkouts).set({ status: result.status, updatedAt: new Date() }).where(eq(checkouts.id, checkoutId));
  return result;
}

function emptySagaIteration(ctx: BenchContext, rec: Recorder): () => Promise<void> {
  const deps = emptySagaDeps({ db: ctx.bench.database.db, temporal: ctx.bench.temporal, config: ctx.bench.config }, ctx.bench.emptyTaskQueue);
  let n = 0;
  return async () => {
    const sku = ctx.bench.skus[n++ % ctx.bench.skus.length]!;
    const t0 = performance.now();
    const result = await runEmptySaga(deps, benchCheckoutInput(sku, ctx.runId));
    if (result.status !== 'COMPLETED') throw new Error(`empty saga ended ${result.status}: ${result.failure?.message ?? ''}`);
    const at = performance.now();
    rec.done.push(at);
    rec.latencies.push({ at, ms: at - t0 });
    ctx.completed.add(at);
  };
}

function checkoutIteration(ctx: BenchContext, rec: Recorder): () => Promise<void> {
  return async () => {
    const trace = ctx.customer.newTrace();
    ctx.offered.add(performance.now());
    await ctx.customer.purchase(trace, performance.now() + 120_000);
    if (trace.retryAfter && (trace.postStatus === 503 || trace.postStatus === 429)) {
      // Shed at the door: a client comes back after Retry-After, as the page asks its customer to.
      rec.shed.push(performance.now());
      await sleep(Number(trace.retryAfter) * 1000);
      return;
    }
    if (trace.finalStatus === 'COMPLETED') {
      const at = performance.now();
      rec.done.push(at);
      rec.latencies.push({ at, ms: trace.finishedMs! });
      ctx.completed.add(at);
    } else {
      throw new Error(trace.error ?? `checkout ended ${trace.finalStatus ?? 'unfinished'}`);
    }
  };
}

export async function warmUp(ctx: BenchContext, withEmptySaga: boolean): Promise<void> {
  const concurrency = 4;
  const run = async (label: string, makeIteration: (rec: Recorder) => () => Promise<void>) => {
    const rec = recorder();
    const loop = startClosedLoop(makeIteration(rec), concurrency, (err) => noteError(rec, err));
    const deadline = performance.now() + 60_000;
    while (loop.iterations < ctx.plan.warmup && performance.now() < deadline) await sleep(100);
    await loop.stop();
    if (rec.done.length === 0) throw new Error(`warm-up: no ${label} completed (${rec.errors[0] ?? 'none finished within 60 s'})`);
    ctx.log(`  warm-up: ${rec.done.length} ${label} completed${rec.failed.length ? `, ${rec.failed.length} failed (${rec.errors[0]})` : ''}`);
  };
  if (withEmptySaga) await run('empty sagas', (rec) => emptySagaIteration(ctx, rec));
  await run('checkouts', (rec) => checkoutIteration(ctx, rec));
}

export async function ceilingPhase(ctx: BenchContext): Promise<SaturationResult> {
  const rec = recorder();
  return saturate(ctx, 'empty saga', rec, emptySagaIteration(ctx, rec));
}

export async function saturationPhase(ctx: BenchContext): Promise<SaturationResult> {
  const rec = recorder();
  return saturate(ctx, 'checkouts', rec, checkoutIteration(ctx, rec));
}

// ---------------------------------------------------------------------------------------------
// Open loop at a fixed arrival rate

export interface OpenLoopPhaseResult {
  rate: number;
  /** How the customers waited: long-poll GETs (the page's fallback), the event stream with Prefer: wait, or not at all (outcomes from Kafka only). */
  follow: FollowMode | 'none';
  durationS: number;
  fired: number;
  achievedRate: number;
  postStatus: Record<string, number>;
  postMs: Summary;
  firstAnswerMs: Summary;
  kafkaConfirmedMs: Summary;
  getMs: Summary;
  finishedMs: Summary;
  /** POSTs answered 202; the rest were shed or failed. */
  accepted: number;
  /** POSTs answered 503/429 with Retry-After: refused at once, nothing started. */
  shed: number;
  completed: number;
  notCompleted: number;
  /** Completed checkouts whose order.confirmed was not read back from Kafka. */
  missingOnKafka: number;
  schedulerLagMs: Summary;
  /** CPU time of all our processes from the first arrival until the last outcome, per order confirmed. */
  cpuMsPerCompleted: number;
  /** Status recorded by the saga (checkout_status_changes.recorded_at) until the event stream's client had it; 'events' only. */
  sseDelayMs?: Summary;
  errors: string[];
}

/**
 * Arrivals at a fixed rate, each customer following its checkout as `follow` says. With 'none' the
 * customer only submits (a plain 202) and the checkout's end is read from Kafka: the CPU it costs is
 * the service's own, the baseline for what following costs.
 */
export async function openLoopPhase(ctx: BenchContext, probe: KafkaOutcomeProbe, rate: number, follow: FollowMode | 'none' = 'long-poll'): Promise<OpenLoopPhaseResult> {
  const { plan } = ctx;
  const traces: CheckoutTrace[] = [];
  const deadline = performance.now() + plan.openMs + plan.openTailMs;
  const started = performance.now();
  const isFinished = (t: CheckoutTrace) => Boolean(t.finalStatus || t.error || (follow === 'none' && t.checkoutId && probe.outcome(t.checkoutId)));
  const ticker = setInterval(() => {
    const finished = traces.filter(isFinished).length;
    ctx.log(`  ${rate}/s: ${((performance.now() - started) / 1000).toFixed(0)} s, ${traces.length} sent, ${finished} finished, ${traces.length - finished} in flight`);
  }, 10_000);
  let result;
  let accepted: string[];
  let missing: string[];
  try {
    result = await runOpenLoop(rate, plan.openMs, async () => {
      const trace = ctx.customer.newTrace();
      traces.push(trace);
      ctx.offered.add(performance.now());
      if (follow === 'none') await ctx.customer.submit(trace);
      else await ctx.customer.purchase(trace, deadline, follow);
    });
    const unfinished = await settleWithin(result.pending, Math.max(0, deadline - performance.now()) + 1_000);
    if (unfinished > 0) ctx.log(`  ! ${unfinished} checkouts of the ${rate}/s phase unfinished after the tail`);
    accepted = traces.filter((t) => t.checkoutId).map((t) => t.checkoutId!);
    // Every accepted checkout's end on Kafka: the CPU window closes at the last one.
    missing = await probe.waitForOutcomes(accepted, Math.max(10_000, deadline - performance.now()));
  } finally {
    clearInterval(ticker);
  }
  const confirmedIds = accepted.filter((id) => probe.outcome(id)?.type === 'order.confirmed');
  const lastOutcome = Math.max(started, ...accepted.map((id) => probe.outcome(id)?.at ?? started));
  const cpuMs = serviceCpuMs(ctx, started, lastOutcome);
  if (follow === 'none') for (const t of traces) if (t.checkoutId && probe.outcome(t.checkoutId)?.type === 'order.confirmed') t.finalStatus = 'COMPLETED';
  const completedIds = traces.filter((t) => t.finalStatus === 'COMPLETED').map((t) => t.checkoutId!);

  const postStatus: Record<string, number> = {};
  for (const t of traces) postStatus[String(t.postStatus ?? 'none')] = (postStatus[String(t.postStatus ?? 'none')] ?? 0) + 1;
  const kafka = traces
    .filter((t) => t.checkoutId && probe.outcome(t.checkoutId)?.type === 'order.confirmed')
    .map((t) => probe.outcome(t.checkoutId!)!.at - t.sentAt);
  const errors = [...new Set(traces.map((t) => t.error).filter((e): e is string => Boolean(e)))].slice(0, 5);
  return {
    rate,
    follow,
    durationS: plan.openMs / 1000,
    fired: result.fired,
    achievedRate: round(result.fired / (plan.openMs / 1000), 2),
    postStatus,
    postMs: summarize(traces.map((t) => t.postMs).filter((v): v is number => v !== undefined)),
    firstAnswerMs: summarize(traces.map((t) => t.firstAnswerMs).filter((v): v is number => v !== undefined)),
    kafkaConfirmedMs: summarize(kafka),
    getMs: summarize(traces.flatMap((t) => t.getMs)),
    finishedMs: summarize(traces.map((t) => t.finishedMs).filter((v): v is number => v !== undefined)),
    accepted: traces.filter((t) => t.checkoutId).length,
    shed: traces.filter((t) => t.retryAfter && (t.postStatus === 503 || t.postStatus === 429)).length,
    completed: completedIds.length,
    notCompleted: traces.length - completedIds.length,
    missingOnKafka: missing.filter((id) => completedIds.includes(id)).length,
    schedulerLagMs: summarize(result.lagMs),
    cpuMsPerCompleted: confirmedIds.length ? round(cpuMs / confirmedIds.length, 1) : NaN,
    ...(follow === 'events' ? { sseDelayMs: await eventDelays(ctx, traces) } : {}),
    errors,
  };
}

/** CPU time (ms) all our processes spent between two performance.now() times, the load generator and other people's processes left out. */
function serviceCpuMs(ctx: BenchContext, from: number, to: number): number {
  const cpu = ctx.sampler.summaryBetween((from - ctx.origin) / 1000, (to - ctx.origin) / 1000);
  const pct = Object.entries(cpu)
    .filter(([label]) => label !== OTHER_LABEL && !label.startsWith('bench'))
    .reduce((sum, [, v]) => sum + v.cpuMean, 0);
  return (pct / 100) * (to - from);
}

/**
 * For every event a client received live (its status recorded after the stream was open, so not the
 * replay of the current state on connecting): recorded_at of that version until the client had it.
 * Both clocks are this machine's wall clock.
 */
async function eventDelays(ctx: BenchContext, traces: CheckoutTrace[]): Promise<Summary> {
  const ids = traces.filter((t) => t.checkoutId && t.events?.length).map((t) => t.checkoutId!);
  const recorded = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await ctx.bench.database.db
      .select({ checkoutId: checkoutStatusChanges.checkoutId, version: checkoutStatusChanges.version, recordedAt: checkoutStatusChanges.recordedAt })
      .from(checkoutStatusChanges)
      .where(inArray(checkoutStatusChanges.checkoutId, ids.slice(i, i + 500)));
    for (const r of rows) recorded.set(`${r.checkoutId}:${r.version}`, r.recordedAt.getTime());
  }
  const delays: number[] = [];
  for (const t of traces) {
    for (const e of t.events ?? []) {
      const at = recorded.get(`${t.checkoutId}:${e.version}`);
      if (at !== undefined && at >= e.connectedAt) delays.push(e.receivedAt - at);
    }
  }
  return summarize(delays);
}

// ---------------------------------------------------------------------------------------------
// Overload: more than the service can do, then nothing

export interface OverloadResult {
  rate: number;
  durationS: number;
  fired: number;
  /** Answers to POST by HTTP status, plus 'timeout' and 'error' (connection refused, reset). */
  byStatus: Record<string, number>;
  /** 429/503 answers that carried Retry-After. */
  withRetryAfter: number;
  /** 5xx other than 503-with-Retry-After, timeouts and connection errors: what a client cannot act on. */
  failures: number;
  postMs: Summary;
  accepted: number;
  finished: number;
  finishedByType: Record<string, number>;
  /** Seconds from the end of the overload until the last accepted checkout finished (or the drain bound). */
  drainS: number;
  drained: boolean;
  stragglers: Array<{ checkoutId: string; status: string }>;
  errors: string[];
}

/**
 * Clients submit and do not follow their checkouts (no long-polls), so the API sees submissions
 * only; every accepted checkout's end is read from Kafka (order.confirmed, checkout.failed,
 * checkout.cancelled), and those still missing after the drain bound are looked up and reported.
 */
export async function overloadPhase(ctx: BenchContext, probe: KafkaOutcomeProbe, capacityPerSecond: number): Promise<OverloadResult> {
  const { plan } = ctx;
  const rate = Math.max(1, round(capacityPerSecond * plan.overloadFactor, 1));
  const traces: CheckoutTrace[] = [];
  ctx.log(`  ${rate}/s for ${plan.overloadMs / 1000} s (${plan.overloadFactor}x the measured ${capacityPerSecond.toFixed(1)}/s)`);
  const result = await runOpenLoop(rate, plan.overloadMs, async () => {
    const trace = ctx.customer.newTrace();
    traces.push(trace);
    ctx.offered.add(performance.now());
    await ctx.customer.submit(trace);
  });
  await settleWithin(result.pending, 15_000);
  const overEnd = performance.now();

  const accepted = traces.filter((t) => t.checkoutId).map((t) => t.checkoutId!);
  ctx.log(`  overload over: ${accepted.length} accepted; draining (at most ${plan.drainMs / 1000} s)`);
  const missing = await probe.waitForOutcomes(accepted, plan.drainMs, (n) => ctx.log(`  draining: ${n} checkouts not finished yet`));
  const terminal = accepted.map((id) => probe.outcome(id)).filter((o) => o !== undefined);
  const lastAt = Math.max(overEnd, ...terminal.map((o) => o.at));
  // Where the first stragglers are, looked up at once: an API still digesting a backlog must not
  // stretch the run by a timeout per straggler.
  const lookedUp = await Promise.all(
    missing.slice(0, 20).map(async (checkoutId) => {
      const res = await ctx.customer.getStatus({ sentAt: performance.now(), getMs: [], checkoutId }).catch(() => undefined);
      return { checkoutId, status: res?.status ?? 'no answer' };
    }),
  );
  const stragglers: OverloadResult['stragglers'] = [...lookedUp, ...missing.slice(20).map((checkoutId) => ({ checkoutId, status: 'not looked up' }))];

  const byStatus: Record<string, number> = {};
  for (const t of traces) byStatus[String(t.postStatus ?? 'none')] = (byStatus[String(t.postStatus ?? 'none')] ?? 0) + 1;
  const finishedByType: Record<string, number> = {};
  for (const o of terminal) finishedByType[o.type] = (finishedByType[o.type] ?? 0) + 1;
  const shed = traces.filter((t) => t.postStatus === 429 || t.postStatus === 503);
  const failures = traces.filter(
    (t) => t.postStatus === 'timeout' || t.postStatus === 'error' || (typeof t.postStatus === 'number' && t.postStatus >= 500 && !(t.postStatus === 503 && t.retryAfter)),
  ).length;
  return {
    rate,
    durationS: plan.overloadMs / 1000,
    fired: result.fired,
    byStatus,
    withRetryAfter: shed.filter((t) => t.retryAfter).length,
    failures,
    postMs: summarize(traces.map((t) => t.postMs).filter((v): v is number => v !== undefined)),
    accepted: accepted.length,
    finished: terminal.filter((o) => o.type !== 'checkout.needs_attention').length,
    finishedByType,
    drainS: missing.length ? plan.drainMs / 1000 : round((lastAt - overEnd) / 1000, 1),
    drained: missing.length === 0,
    stragglers,
    errors: [...new Set(traces.map((t) => t.error).filter((e): e is string => Boolean(e)))].slice(0, 5),
  };
}

// ---------------------------------------------------------------------------------------------
// Soak: many checkouts in a row, cost per 1,000

export interface SoakBlock {
  /** Checkouts completed at the end of this block (1000, 2000, ...). */
  completed: number;
  seconds: number;
  perSecond: number;
  /** Memory (MB, PSS) at the end of the block. */
  memMb: Record<string, number>;
  /** Mean CPU % per process over the block. */
  cpu: Record<string, number>;
}

export interface SoakResult {
  target: number;
  concurrency: number;
  completed: number;
  failed: number;
  blocks: SoakBlock[];
  /** Last full block's rate against the first one's, in %. */
  lastVsFirstPct: number;
  errors: string[];
}

export async function soakPhase(ctx: BenchContext, total: number, concurrency: number, blockSize = 1_000): Promise<SoakResult> {
  const rec = recorder();
  const loop = startClosedLoop(checkoutIteration(ctx, rec), concurrency, (err) => noteError(rec, err));
  const blocks: SoakBlock[] = [];
  let blockStart = performance.now();
  let sampleIndex = ctx.sampler.samples.length;
  try {
    while (rec.done.length < total) {
      await sleep(250);
      while (rec.done.length >= (blocks.length + 1) * blockSize || (rec.done.length >= total && blocks.length * blockSize < total)) {
        const end = Math.min((blocks.length + 1) * blockSize, total);
        const at = rec.done[end - 1]!;
        const size = end - blocks.length * blockSize;
        const seconds = (at - blockStart) / 1000;
        const samples = ctx.sampler.samples.slice(sampleIndex);
        const cpu: Record<string, number> = {};
        const memMb: Record<string, number> = {};
        for (const label of ctx.sampler.labels) {
          const values = samples.map((s) => s.processes[label]).filter((v) => v !== undefined);
          if (values.length) cpu[label] = round(values.reduce((a, v) => a + v.cpu, 0) / values.length, 0);
          const mem = ctx.sampler.latestMemMb(label);
          if (mem !== undefined) memMb[label] = round(mem, 0);
        }
        const block: SoakBlock = { completed: end, seconds: round(seconds, 1), perSecond: round(size / seconds, 2), memMb, cpu };
        blocks.push(block);
        ctx.log(`  ${end} completed: ${block.perSecond}/s over the last ${size}, worker ${memMb.worker ?? '?'} MB, Temporal ${memMb.Temporal ?? '?'} MB`);
        blockStart = at;
        sampleIndex = ctx.sampler.samples.length;
        if (end >= total) break;
      }
      if (rec.failed.length > Math.max(50, total * 0.05)) throw new Error(`soak: ${rec.failed.length} checkouts failed (${rec.errors[0] ?? ''})`);
    }
  } finally {
    await loop.stop(120_000);
  }
  const full = blocks.filter((b, i) => i === 0 || b.completed - blocks[i - 1]!.completed === blockSize);
  const first = full[0];
  const last = full[full.length - 1];
  return {
    target: total,
    concurrency,
    completed: rec.done.length,
    failed: rec.failed.length,
    blocks,
    lastVsFirstPct: first && last ? round((last.perSecond / first.perSecond) * 100, 1) : Number.NaN,
    errors: rec.errors,
  };
}
