import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { WorkflowHandle } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { CheckoutCustomer, type CheckoutTrace } from '../../tools/bench/checkout-client';
import { createEmptyActivities } from '../../tools/bench/empty-activities';
import { createHttpClient, type HttpClient } from '../../tools/bench/http-client';
import { KafkaOutcomeProbe } from '../../tools/bench/kafka-probe';
import { runOpenLoop, settleWithin, sleep, startClosedLoop } from '../../tools/bench/load';
import { benchCheckoutInput, DEFAULT_PLAN, emptySagaDeps, runEmptySaga } from '../../tools/bench/phases';
import { OTHER_LABEL, ProcSampler } from '../../tools/bench/proc-sampler';
import { buildRows, formatTable, renderHtml, type BenchResults } from '../../tools/bench/report';
import { percentile, ratePerSecond, summarize } from '../../tools/bench/stats';
import { checkoutWorkflowId } from '../../src/workflows/checkout/contract';
import { createCheckoutWorker } from '../../src/workers/checkout-worker';
import { temporalDataConverter } from '../../src/temporal/data-converter';
import { startTestApi, type TestApi } from '../api/support';

/**
 * The bench's building blocks, run for a few seconds against the test stack. These check that the
 * bench measures the right thing (structure and correctness); how fast anything is, is the bench's
 * business, never a test's.
 */

describe('bench arithmetic', () => {
  it('interpolates percentiles between the nearest ranks', () => {
    const values = Array.from({ length: 101 }, (_, i) => i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([10, 20], 50)).toBe(15);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(summarize([5, 1, 3])).toMatchObject({ count: 3, min: 1, p50: 3, max: 5, mean: 3 });
  });

  it('counts completions per second inside a window only', () => {
    expect(ratePerSecond([0, 500, 1_000, 1_500, 2_500], 500, 2_500)).toBe(1.5);
    expect(ratePerSecond([1, 2, 3], 10, 10)).toBe(0);
  });
});

describe('bench load generators', () => {
  it('an open loop fires every arrival on schedule even while none has answered', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let answered = 0;
    const result = await runOpenLoop(20, 500, async () => {
      await gate;
      answered++;
    });
    expect(result.fired).toBe(10);
    expect(answered).toBe(0);
    expect(result.lagMs).toHaveLength(10);
    release();
    expect(await settleWithin(result.pending, 5_000)).toBe(0);
    expect(answered).toBe(10);
  });

  it('a closed loop keeps exactly N clients busy, and follows a change of N', async () => {
    let busy = 0;
    let peak = 0;
    const loop = startClosedLoop(async () => {
      busy++;
      peak = Math.max(peak, busy);
      await sleep(20);
      busy--;
    }, 3);
    await sleep(150);
    expect(peak).toBe(3);
    loop.setConcurrency(6);
    await sleep(150);
    expect(peak).toBe(6);
    loop.setConcurrency(2);
    await sleep(150);
    peak = 0;
    await sleep(150);
    expect(peak).toBe(2);
    expect(await loop.stop(5_000)).toEqual({ abandoned: 0 });
    expect(busy).toBe(0);
  });
});

describe('bench against the test stack', () => {
  let api: TestApi;
  let http: HttpClient;
  let sku: string;
  let probe: KafkaOutcomeProbe | undefined;
  let emptyConnection: NativeConnection | undefined;
  let emptyWorker: Worker | undefined;
  let emptyRunning: Promise<void> | undefined;
  const emptyTaskQueue = `bench-smoke-empty-${randomUUID()}`;

  beforeAll(async () => {
    api = await startTestApi();
    http = createHttpClient(api.url);
    sku = await api.h.seedProduct({ stock: 1_000 });
  });
  afterAll(async () => {
    emptyWorker?.shutdown();
    await emptyRunning;
    await emptyConnection?.close();
    await probe?.stop();
    http?.close();
    await api?.close();
  });

  it('open-loop checkouts through the API: each answered 202, followed to COMPLETED, its order.confirmed read back from Kafka', async () => {
    probe = await KafkaOutcomeProbe.start({ brokers: api.h.config.KAFKA_BROKERS, topic: api.h.config.KAFKA_TOPIC, groupId: `bench-smoke-${randomUUID()}` });
    const customer = new CheckoutCustomer(http, [sku], `smoke${randomUUID().slice(0, 6)}`);
    const traces: CheckoutTrace[] = [];
    const deadline = performance.now() + 60_000;
    const result = await runOpenLoop(4, 2_000, async () => {
      const trace = customer.newTrace();
      traces.push(trace);
      await customer.purchase(trace, deadline);
    });
    expect(await settleWithin(result.pending, 60_000)).toBe(0);

    expect(result.fired).toBe(8);
    expect(traces.map((t) => [t.postStatus, t.finalStatus, t.error])).toEqual(traces.map(() => [202, 'COMPLETED', undefined]));
    for (const t of traces) {
      // The page's first render and its reload after the end: two plain GETs.
      expect(t.getMs).toHaveLength(2);
      expect(t.postMs).toBeGreaterThan(0);
      expect(t.firstAnswerMs).toBeGreaterThanOrEqual(t.postMs!);
      expect(t.finishedMs).toBeGreaterThanOrEqual(t.firstAnswerMs!);
    }
    const missing = await probe.waitForOutcomes(
      traces.map((t) => t.checkoutId!),
      30_000,
    );
    expect(missing).toEqual([]);
    for (const t of traces) {
      const outcome = probe.outcome(t.checkoutId!)!;
      expect(outcome.type).toBe('order.confirmed');
      expect(outcome.at).toBeGreaterThan(t.sentAt);
    }

    const post = summarize(traces.map((t) => t.postMs!));
    expect(post.count).toBe(8);
    expect(post.min).toBeLessThanOrEqual(post.p50);
    expect(post.p50).toBeLessThanOrEqual(post.p95);
    expect(post.p95).toBeLessThanOrEqual(post.p99);
    expect(post.p99).toBeLessThanOrEqual(post.max);
  });

  it('customers following by the event stream: POST with Prefer: wait answers the decided payment, the stream carries each status version once, in order, to COMPLETED', async () => {
    const customer = new CheckoutCustomer(http, [sku], `smoke${randomUUID().slice(0, 6)}`);
    const traces: CheckoutTrace[] = [];
    const deadline = performance.now() + 60_000;
    const result = await runOpenLoop(2, 2_000, async () => {
      const trace = customer.newTrace();
      traces.push(trace);
      await customer.purchase(trace, deadline, 'events');
    });
    expect(await settleWithin(result.pending, 60_000)).toBe(0);

    expect(traces.map((t) => [t.finalStatus, t.error])).toEqual(traces.map(() => ['COMPLETED', undefined]));
    for (const t of traces) {
      // 201 when the payment was decided within the wait, 202 when the machine was too slow for it.
      expect([201, 202]).toContain(t.postStatus);
      if (t.postStatus === 201) expect(t.firstAnswerMs).toBe(t.postMs);
      expect(t.finishedMs).toBeGreaterThanOrEqual(t.firstAnswerMs!);
      const versions = t.events!.map((e) => e.version);
      expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
    }
  });

  it('the empty saga runs the real CheckoutWorkflow to COMPLETED, calling the same activities in the same order as a real checkout', async () => {
    emptyConnection = await NativeConnection.connect({ address: api.h.config.TEMPORAL_ADDRESS });
    emptyWorker = await createCheckoutWorker({
      connection: emptyConnection,
      namespace: api.h.config.TEMPORAL_NAMESPACE,
      taskQueue: emptyTaskQueue,
      activities: createEmptyActivities(),
      dataConverter: temporalDataConverter(api.h.config),
      ...(process.env.WORKFLOW_BUNDLE_PATH ? { workflowBundlePath: process.env.WORKFLOW_BUNDLE_PATH } : {}),
    });
    emptyRunning = emptyWorker.run();

    const emptySaga = emptySagaDeps({ db: api.h.db, temporal: api.h.client, config: api.h.config }, emptyTaskQueue);
    const results: string[] = [];
    const loop = startClosedLoop(async () => {
      const result = await runEmptySaga(emptySaga, benchCheckoutInput(sku, 'smoke'));
      results.push(result.status);
    }, 4);
    await sleep(2_000);
    expect(await loop.stop(30_000)).toEqual({ abandoned: 0 });
    expect(results.length).toBeGreaterThan(0);
    expect(new Set(results)).toEqual(new Set(['COMPLETED']));

    const empty = benchCheckoutInput(sku, 'smoke-shape');
    await runEmptySaga(emptySaga, empty);
    const { input: real } = await api.h.startCheckout({ items: [{ sku, quantity: 1 }] });
    expect(await api.h.result(real.checkoutId)).toMatchObject({ status: 'COMPLETED' });

    const emptySteps = await activitySteps(api.h.client.workflow.getHandle(checkoutWorkflowId(empty.checkoutId)));
    const realSteps = await activitySteps(api.h.client.workflow.getHandle(checkoutWorkflowId(real.checkoutId)));
    expect(realSteps.length).toBeGreaterThan(5);
    expect(emptySteps).toEqual(realSteps);
  });

  it('the plan of a default run keeps the earlier phases: two open-loop rates of 60 s and 30 s of overload at twice the capacity', () => {
    expect(DEFAULT_PLAN.openRates).toEqual([10, 20]);
    expect(DEFAULT_PLAN.openMs).toBe(60_000);
    expect(DEFAULT_PLAN).toMatchObject({ overloadFactor: 2, overloadMs: 30_000 });
  });
});

describe('bench process sampler', () => {
  it('reports CPU and memory of a process with its descendants, and what the rest of the machine used', async () => {
    const child = spawn(process.execPath, ['-e', 'const end = Date.now() + 1500; while (Date.now() < end) {}'], { stdio: 'ignore' });
    const sampler = new ProcSampler();
    sampler.track({ label: 'spinner', pid: child.pid!, tree: true });
    sampler.track({ label: 'jest', pid: process.pid, tree: false });
    sampler.phase = 'busy';
    sampler.sample();
    await sleep(600);
    sampler.sample();
    await once(child, 'exit');

    expect(sampler.samples).toHaveLength(1);
    const [sample] = sampler.samples;
    expect(sample!.phase).toBe('busy');
    expect(Object.keys(sample!.processes).sort()).toEqual(['jest', OTHER_LABEL, 'spinner'].sort());
    expect(sample!.processes.spinner!.cpu).toBeGreaterThan(0);
    expect(sample!.processes.spinner!.memMb).toBeGreaterThan(0);
    expect(sampler.phaseSummary('busy').spinner).toMatchObject({ cpuMean: sample!.processes.spinner!.cpu });
  });
});

describe('bench report', () => {
  it('renders the table with targets and an HTML page with inline SVG charts', () => {
    const summary = summarize([10, 20, 30, 40, 1_000]);
    const results: BenchResults = {
      runId: 'test',
      kind: 'quick',
      startedAt: new Date(0).toISOString(),
      plan: DEFAULT_PLAN,
      knobs: { DATABASE_POOL_SIZE: '20' },
      machine: { cpus: 2, cpuModel: 'test', memGb: 4, loadBefore: [0.1, 0.1, 0.1] },
      ceiling: { ramp: [{ concurrency: 8, perSecond: 30 }], concurrency: 8, perSecond: 30, windowS: 15, completed: 450, failed: 0, shed: 0, latencyMs: summary, cpu: { Temporal: 90 }, cpuMsPerCompleted: 60, errors: [] },
      saturation: {
        ramp: [{ concurrency: 8, perSecond: 27 }], concurrency: 8, perSecond: 27, windowS: 15, completed: 405, failed: 0, shed: 0, latencyMs: summary,
        cpu: { worker: 90, [OTHER_LABEL]: 5 }, cpuMsPerCompleted: 70, errors: [],
      },
      open: [
        {
          rate: 20, durationS: 60, fired: 1200, achievedRate: 20, postStatus: { 202: 1150, 503: 50 }, postMs: summary, firstAnswerMs: summary,
          kafkaConfirmedMs: summary, getMs: summary, finishedMs: summary, accepted: 1150, shed: 50, completed: 1150, notCompleted: 50, missingOnKafka: 0, schedulerLagMs: summary, errors: [],
          follow: 'long-poll', cpuMsPerCompleted: 80,
        },
      ],
      half: {
        following: {
          rate: 13.5, follow: 'events', durationS: 60, fired: 810, achievedRate: 13.5, postStatus: { 201: 800, 202: 10 }, postMs: summary, firstAnswerMs: summary,
          kafkaConfirmedMs: summary, getMs: summary, finishedMs: summary, accepted: 810, shed: 0, completed: 810, notCompleted: 0, missingOnKafka: 0, schedulerLagMs: summary,
          cpuMsPerCompleted: 76, sseDelayMs: summarize([5, 8, 12, 40]), errors: [],
        },
        notFollowing: {
          rate: 13.5, follow: 'none', durationS: 60, fired: 810, achievedRate: 13.5, postStatus: { 202: 810 }, postMs: summary, firstAnswerMs: summarize([]),
          kafkaConfirmedMs: summary, getMs: summarize([]), finishedMs: summarize([]), accepted: 810, shed: 0, completed: 810, notCompleted: 0, missingOnKafka: 0, schedulerLagMs: summary,
          cpuMsPerCompleted: 70, errors: [],
        },
      },
      rows: [],
      series: { completed: [[0, 1], [1, 3]], offered: [[0, 2], [1, 2]] },
      marks: [{ phase: 'saturation', fromS: 0, toS: 1 }],
      cpuByPhase: { saturation: { worker: { cpuMean: 90, cpuMax: 100, memMaxMb: 200 } } },
      samples: [{ t: 0.5, phase: 'saturation', processes: { worker: { cpu: 90, memMb: 200 } } }],
    };
    results.rows = buildRows(results);

    expect(results.rows).toContainEqual({ phase: 'saturation', metric: 'checkouts completed/s', value: '27.0', target: '>= 25/s', met: true });
    expect(results.rows).toContainEqual({ phase: 'saturation', metric: 'ratio to the ceiling', value: '90 %', target: '>= 40 %', met: true });
    expect(results.rows).toContainEqual({ phase: 'saturation', metric: 'CPU per checkout / per empty saga', value: '1.2x', target: '<= 2.5x', met: true });
    // Half of saturation: the latency targets, and what following by the event stream costs.
    expect(results.rows).toContainEqual({ phase: 'half 13.5/s', metric: 'status change->SSE client p50 / p99 (4 events)', value: '10 ms / 39 ms', target: 'p99 <= 100 ms', met: true });
    expect(results.rows).toContainEqual({ phase: 'half 13.5/s', metric: 'CPU per checkout, following / not', value: '76 ms / 70 ms', target: '' });
    expect(results.rows).toContainEqual({ phase: 'half 13.5/s', metric: 'CPU that following adds', value: '9 %', target: '<= 10 %', met: true });
    expect(results.rows.find((r) => r.phase === 'half 13.5/s' && r.metric === 'POST->order.confirmed p99')).toMatchObject({ target: '<= 1500 ms', met: true });
    expect(results.rows.find((r) => r.phase === 'open 20/s' && r.metric.startsWith('POST p50'))).toMatchObject({ met: false });
    // Shed POSTs are reported, and are not counted as checkouts lost.
    expect(results.rows).toContainEqual({ phase: 'open 20/s', metric: 'shed at the door (503 + Retry-After)', value: '50 / 1200', target: '' });
    expect(results.rows).toContainEqual({ phase: 'open 20/s', metric: 'completed / accepted', value: '1150 / 1150', target: 'all', met: true });
    expect(results.rows).toContainEqual({ phase: 'cpu @ saturation', metric: 'worker', value: '90 % of a core = 33 ms per checkout, 200 MB', target: '' });
    expect(formatTable(results.rows).split('\n')[0]).toMatch(/^phase\s+metric\s+value\s+target\s+met\?$/);
    const html = renderHtml(results);
    expect(html.match(/<svg /g)?.length).toBeGreaterThanOrEqual(3);
    expect(html).not.toMatch(/<script/);
  });
});

/**
 * The activities a run called, in order: regular ones from ActivityTaskScheduled, local ones from
 * their markers, so the comparison holds whichever kind each step is.
 */
async function activitySteps(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  const steps: string[] = [];
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (scheduled) steps.push(scheduled);
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      const data = marker.details?.data?.payloads?.[0]?.data;
      const parsed = data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string; activityType?: string }) : {};
      steps.push(`local:${parsed.activity_type ?? parsed.activityType ?? '?'}`);
    }
  }
  return steps;
}
