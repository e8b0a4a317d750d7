import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BenchPlan, OpenLoopPhaseResult, OverloadResult, PhaseMark, SaturationResult, SoakResult } from './phases';
import { OTHER_LABEL, type Sample } from './proc-sampler';
import { round, type Summary } from './stats';
import { color, escapeXml, lineChart, logBarChart, type LineSeries } from './svg';

/** The issue's targets (issue 8): goals for the design, measured here, never asserted in tests. */
export const TARGETS = {
  checkoutsPerSecond: 25,
  ratioToCeilingPct: 40,
  /** CPU per checkout at saturation, all our processes, at most this many times the empty saga's. */
  cpuToCeilingRatio: 2.5,
  postP99At20Ms: 50,
  firstAnswerP50Ms: 150,
  kafkaP50Ms: 500,
  kafkaP99Ms: 1_500,
  sseP99Ms: 100,
  /** Following a checkout by the event stream costs at most this much more CPU per checkout than not following. */
  followingCpuPct: 10,
  soakWithinPct: 10,
};

export interface Row {
  phase: string;
  metric: string;
  value: string;
  target: string;
  /** undefined: information only. */
  met?: boolean;
}

export interface BenchResults {
  runId: string;
  kind: 'default' | 'quick' | 'soak';
  startedAt: string;
  finishedAt?: string;
  durationS?: number;
  plan: BenchPlan;
  /** The tuning variables this run was started with (unset ones are the defaults). */
  knobs: Record<string, string>;
  machine: { cpus: number; cpuModel: string; memGb: number; loadBefore: number[]; loadAfter?: number[] };
  ceiling?: SaturationResult;
  saturation?: SaturationResult;
  open: OpenLoopPhaseResult[];
  /** Half the saturation rate: customers following by the event stream, then customers who only submit. */
  half?: { following: OpenLoopPhaseResult; notFollowing: OpenLoopPhaseResult };
  overload?: OverloadResult;
  soak?: SoakResult;
  rows: Row[];
  series: { completed: Array<[number, number]>; offered: Array<[number, number]> };
  marks: PhaseMark[];
  cpuByPhase: Record<string, Record<string, { cpuMean: number; cpuMax: number; memMaxMb: number }>>;
  /** The busiest process in the phase that decides capacity, and how busy. */
  saturating?: { phase: string; process: string; cpuMean: number };
  samples: Sample[];
  error?: string;
}

/** Above this (% of a core, mean over a phase) other work on the machine makes a phase's figures unreliable. */
const OTHER_CPU_LIMIT = 15;

const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a');
const pct = (s: Summary) => `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)}`;
const atMost = (v: number, limit: number) => (Number.isFinite(v) ? v <= limit : false);

export function buildRows(r: BenchResults): Row[] {
  const rows: Row[] = [];
  const add = (phase: string, metric: string, value: string, target = '', met?: boolean) => rows.push({ phase, metric, value, target, ...(met === undefined ? {} : { met }) });

  if (r.ceiling) {
    add('ceiling', 'empty saga completed/s', r.ceiling.perSecond.toFixed(1));
    add('ceiling', 'clients (from the ramp)', String(r.ceiling.concurrency));
    add('ceiling', 'saga start->result p50 / p99', `${ms(r.ceiling.latencyMs.p50)} / ${ms(r.ceiling.latencyMs.p99)}`);
    add('ceiling', 'CPU per saga, all our processes', ms(r.ceiling.cpuMsPerCompleted));
  }
  if (r.saturation) {
    add('saturation', 'checkouts completed/s', r.saturation.perSecond.toFixed(1), `>= ${TARGETS.checkoutsPerSecond}/s`, r.saturation.perSecond >= TARGETS.checkoutsPerSecond);
    if (r.ceiling && r.ceiling.perSecond > 0) {
      const ratio = (r.saturation.perSecond / r.ceiling.perSecond) * 100;
      add('saturation', 'ratio to the ceiling', `${ratio.toFixed(0)} %`, `>= ${TARGETS.ratioToCeilingPct} %`, ratio >= TARGETS.ratioToCeilingPct);
    }
    add('saturation', 'clients (from the ramp)', String(r.saturation.concurrency));
    add('saturation', 'POST->COMPLETED p50 / p99', `${ms(r.saturation.latencyMs.p50)} / ${ms(r.saturation.latencyMs.p99)}`);
    add('saturation', 'CPU per checkout, all our processes', ms(r.saturation.cpuMsPerCompleted));
    if (r.ceiling && r.ceiling.cpuMsPerCompleted > 0) {
      const times = r.saturation.cpuMsPerCompleted / r.ceiling.cpuMsPerCompleted;
      add('saturation', 'CPU per checkout / per empty saga', `${times.toFixed(1)}x`, `<= ${TARGETS.cpuToCeilingRatio}x`, times <= TARGETS.cpuToCeilingRatio);
    }
    if (r.saturation.failed > 0) add('saturation', 'failed checkouts', String(r.saturation.failed), '0', false);
    if (r.saturation.shed > 0) add('saturation', 'POSTs shed (503 + Retry-After)', String(r.saturation.shed));
  }
  if (r.half) {
    const { following: f, notFollowing: n } = r.half;
    const p = `half ${f.rate}/s`;
    add(p, 'arrivals/s achieved (following / not)', `${f.achievedRate} / ${n.achievedRate}`);
    add(p, 'first answer p50 / p95 / p99 (Prefer: wait)', pct(f.firstAnswerMs), `p50 <= ${TARGETS.firstAnswerP50Ms} ms`, atMost(f.firstAnswerMs.p50, TARGETS.firstAnswerP50Ms));
    add(p, 'POST answers (following)', Object.entries(f.postStatus).map(([k, v]) => `${k}: ${v}`).join(', '));
    add(p, 'POST->order.confirmed p50', ms(f.kafkaConfirmedMs.p50), `<= ${TARGETS.kafkaP50Ms} ms`, atMost(f.kafkaConfirmedMs.p50, TARGETS.kafkaP50Ms));
    add(p, 'POST->order.confirmed p99', ms(f.kafkaConfirmedMs.p99), `<= ${TARGETS.kafkaP99Ms} ms`, atMost(f.kafkaConfirmedMs.p99, TARGETS.kafkaP99Ms));
    if (f.sseDelayMs) add(p, `status change->SSE client p50 / p99 (${f.sseDelayMs.count} events)`, `${ms(f.sseDelayMs.p50)} / ${ms(f.sseDelayMs.p99)}`, `p99 <= ${TARGETS.sseP99Ms} ms`, atMost(f.sseDelayMs.p99, TARGETS.sseP99Ms));
    add(p, 'CPU per checkout, following / not', `${ms(f.cpuMsPerCompleted)} / ${ms(n.cpuMsPerCompleted)}`);
    if (n.cpuMsPerCompleted > 0) {
      const extra = (f.cpuMsPerCompleted / n.cpuMsPerCompleted - 1) * 100;
      add(p, 'CPU that following adds', `${extra.toFixed(0)} %`, `<= ${TARGETS.followingCpuPct} %`, extra <= TARGETS.followingCpuPct);
    }
    add(p, 'completed / accepted (following; not)', `${f.completed} / ${f.accepted}; ${n.completed} / ${n.accepted}`, 'all', f.completed === f.accepted && n.completed === n.accepted && f.missingOnKafka === 0);
  }
  for (const o of r.open) {
    const p = `open ${o.rate}/s`;
    add(p, 'arrivals/s achieved', `${o.achievedRate} (lag p99 ${ms(o.schedulerLagMs.p99)})`);
    add(p, 'POST p50 / p95 / p99', pct(o.postMs), o.rate === 20 ? `p99 <= ${TARGETS.postP99At20Ms} ms` : '', o.rate === 20 ? atMost(o.postMs.p99, TARGETS.postP99At20Ms) : undefined);
    add(p, 'first answer p50 / p95 / p99 (long-poll)', pct(o.firstAnswerMs));
    add(p, 'POST->order.confirmed p50 / p99', `${ms(o.kafkaConfirmedMs.p50)} / ${ms(o.kafkaConfirmedMs.p99)}`);
    add(p, 'GET status p50 / p99', `${ms(o.getMs.p50)} / ${ms(o.getMs.p99)}`);
    add(p, 'shed at the door (503 + Retry-After)', `${o.shed} / ${o.fired}`);
    add(p, 'completed / accepted', `${o.completed} / ${o.accepted}`, 'all', o.completed === o.accepted && o.missingOnKafka === 0);
  }
  if (r.overload) {
    const o = r.overload;
    add('overload', 'offered', `${o.rate}/s for ${o.durationS} s (${o.fired} POSTs)`);
    add('overload', 'POST answers', Object.entries(o.byStatus).map(([k, v]) => `${k}: ${v}`).join(', '));
    add('overload', 'POST p50 / p99', `${ms(o.postMs.p50)} / ${ms(o.postMs.p99)}`);
    add('overload', '5xx (not 503+Retry-After) / timeouts', String(o.failures), '0', o.failures === 0);
    add('overload', 'accepted that finished', `${o.finished} / ${o.accepted} (${o.drained ? `drained in ${o.drainS} s` : `not drained within the ${o.drainS} s bound`})`, 'all', o.finished === o.accepted);
    if (o.stragglers.length) {
      const byStatus: Record<string, number> = {};
      for (const st of o.stragglers) byStatus[st.status] = (byStatus[st.status] ?? 0) + 1;
      add('overload', 'stragglers by status', Object.entries(byStatus).map(([k, v]) => `${k}: ${v}`).join(', '));
    }
  }
  if (r.soak) {
    const s = r.soak;
    const first = s.blocks[0];
    const last = s.blocks[s.blocks.length - 1];
    add('soak', 'checkouts completed', `${s.completed} (${s.failed} failed) at ${s.concurrency} clients`);
    if (first && last) {
      add('soak', `completed/s first -> last block of ${s.blocks[0]?.completed ?? 0}`, `${first.perSecond} -> ${last.perSecond} (${s.lastVsFirstPct} %)`, `>= ${100 - TARGETS.soakWithinPct} %`, s.lastVsFirstPct >= 100 - TARGETS.soakWithinPct);
      for (const label of ['worker', 'API', 'Temporal', 'PostgreSQL']) {
        if (first.memMb[label] !== undefined) add('soak', `${label} memory first -> last`, `${first.memMb[label]} -> ${last.memMb[label]} MB`);
      }
    }
  }
  // Where the CPU went while the service was saturated: per process, as % of a core and per checkout.
  const window = r.saturation ?? r.ceiling;
  if (window) {
    const phase = r.saturation ? 'cpu @ saturation' : 'cpu @ ceiling';
    for (const [label, cpu] of Object.entries(window.cpu).sort((a, b) => b[1] - a[1])) {
      const mem = r.cpuByPhase[r.saturation ? 'saturation' : 'ceiling']?.[label]?.memMaxMb;
      const perSaga = window.perSecond > 0 ? ` = ${Math.round((cpu * 10) / window.perSecond)} ms per ${r.saturation ? 'checkout' : 'saga'}` : '';
      add(phase, label, label === OTHER_LABEL ? `${cpu} % of a core` : `${cpu} % of a core${perSaga}${mem !== undefined ? `, ${Math.round(mem)} MB` : ''}`);
    }
  } else if (r.soak && r.cpuByPhase.soak) {
    for (const [label, v] of Object.entries(r.cpuByPhase.soak).sort((a, b) => b[1].cpuMean - a[1].cpuMean)) {
      add('cpu @ soak', label, `${v.cpuMean.toFixed(0)} % of a core${label === OTHER_LABEL ? '' : `, ${v.memMaxMb.toFixed(0)} MB`}`);
    }
  }
  if (window) {
    const total = Object.values(window.cpu).reduce((sum, v) => sum + v, 0);
    const capacity = r.machine.cpus * 100;
    add(r.saturation ? 'cpu @ saturation' : 'cpu @ ceiling', 'whole machine', `${Math.round(total)} % of ${capacity} %${total >= capacity * 0.9 ? ': every core busy, so the machine (not one process) is the limit' : ''}`);
  }
  if (r.saturating) add(`cpu @ ${r.saturating.phase}`, 'busiest process', `${r.saturating.process} (${r.saturating.cpuMean.toFixed(0)} % of a core)`);
  // Someone else's test run during a phase takes CPU from the stack: its figures are then not ours.
  for (const [phase, cpu] of Object.entries(r.cpuByPhase)) {
    const other = cpu[OTHER_LABEL]?.cpuMean;
    if (phase !== 'warm-up' && other !== undefined && other > OTHER_CPU_LIMIT) {
      add(phase, 'CPU used by processes not ours', `${Math.round(other)} % of a core: this phase's figures are skewed`, `<= ${OTHER_CPU_LIMIT} %`, false);
    }
  }
  if (r.error) add('run', 'error', r.error, 'none', false);
  return rows;
}

export function formatTable(rows: Row[]): string {
  const header: Row = { phase: 'phase', metric: 'metric', value: 'value', target: 'target' };
  const cells = [header, ...rows].map((r) => [r.phase, r.metric, r.value, r.target, r === header ? 'met?' : r.met === undefined ? '' : r.met ? 'yes' : 'NO']);
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** The table as Markdown, for the README's Performance section. */
export function formatMarkdown(rows: Row[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '| phase | metric | value | target | met? |',
    '|-------|--------|-------|--------|------|',
    ...rows.map((r) => `| ${esc(r.phase)} | ${esc(r.metric)} | ${esc(r.value)} | ${esc(r.target)} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`),
  ].join('\n');
}

export async function writeReports(dir: string, stamp: string, r: BenchResults): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = path.join(dir, `${stamp}.json`);
  const html = path.join(dir, `${stamp}.html`);
  await writeFile(json, `${JSON.stringify(r, null, 2)}\n`);
  await writeFile(html, renderHtml(r));
  return { json, html };
}

export function renderHtml(r: BenchResults): string {
  const bands = r.marks.filter((m) => m.phase !== 'warm-up').map((m) => ({ label: m.phase, from: m.fromS, to: m.toS }));
  const charts: string[] = [];
  charts.push(
    lineChart({
      title: 'Throughput over time',
      xLabel: 'seconds since the bench started',
      yLabel: 'per second',
      bands,
      series: [
        { name: 'completed/s', points: r.series.completed, color: color(0) },
        { name: 'submitted/s', points: r.series.offered, color: color(1), dashed: true },
      ],
    }),
  );
  const groups = [
    ...r.open.flatMap((o) => [
      { label: `POST\n${o.rate}/s`, s: o.postMs },
      { label: `first answer\n${o.rate}/s`, s: o.firstAnswerMs },
      { label: `order.confirmed\n${o.rate}/s`, s: o.kafkaConfirmedMs },
      { label: `GET status\n${o.rate}/s`, s: o.getMs },
    ]),
    ...(r.overload ? [{ label: 'POST\noverload', s: r.overload.postMs }] : []),
    ...(r.saturation ? [{ label: 'POST->done\nsaturation', s: r.saturation.latencyMs }] : []),
    ...(r.ceiling ? [{ label: 'empty saga\nceiling', s: r.ceiling.latencyMs }] : []),
  ];
  if (groups.length) {
    charts.push(
      logBarChart({
        title: 'Latency percentiles per phase (ms, log scale)',
        yLabel: 'ms',
        groups: groups.map((g) => ({ label: g.label, values: [{ name: 'p50', value: g.s.p50 }, { name: 'p95', value: g.s.p95 }, { name: 'p99', value: g.s.p99 }] })),
      }),
    );
  }
  const labels = [...new Set(r.samples.flatMap((s) => Object.keys(s.processes)))];
  const perProcess = (pick: (v: { cpu: number; memMb: number }) => number, skipOther: boolean): LineSeries[] =>
    labels
      .filter((l) => !(skipOther && l === OTHER_LABEL))
      .map((label, i) => ({
        name: label,
        color: color(i),
        dashed: label === OTHER_LABEL,
        points: r.samples.filter((s) => s.processes[label]).map((s) => [s.t, round(pick(s.processes[label]!), 1)] as [number, number]),
      }));
  charts.push(lineChart({ title: 'CPU per process (% of one core; the machine has ' + r.machine.cpus + ')', xLabel: 'seconds', yLabel: '% of a core', bands, series: perProcess((v) => v.cpu, false), height: 360 }));
  charts.push(lineChart({ title: 'Memory per process (MB, PSS)', xLabel: 'seconds', yLabel: 'MB', bands, series: perProcess((v) => v.memMb, true), height: 320 }));
  if (r.soak && r.soak.blocks.length) {
    charts.push(
      lineChart({
        title: 'Soak: completed/s and worker memory per 1,000 checkouts',
        xLabel: 'checkouts completed',
        yLabel: 'per second / MB',
        series: [
          { name: 'completed/s', color: color(0), points: r.soak.blocks.map((b) => [b.completed, b.perSecond]) },
          { name: 'worker MB', color: color(1), points: r.soak.blocks.map((b) => [b.completed, b.memMb.worker ?? 0]) },
        ],
      }),
    );
  }
  const phases = Object.keys(r.cpuByPhase);
  const cpuTable = `<table><tr><th>process</th>${phases.map((p) => `<th>${escapeXml(p)}</th>`).join('')}</tr>${labels
    .map((l) => `<tr><td>${escapeXml(l)}</td>${phases.map((p) => { const v = r.cpuByPhase[p]?.[l]; return `<td>${v ? `${v.cpuMean.toFixed(0)} %${l === OTHER_LABEL ? '' : ` · ${v.memMaxMb.toFixed(0)} MB`}` : ''}</td>`; }).join('')}</tr>`)
    .join('')}</table>`;
  const rowsHtml = r.rows
    .map((row) => `<tr class="${row.met === false ? 'miss' : row.met ? 'met' : ''}"><td>${escapeXml(row.phase)}</td><td>${escapeXml(row.metric)}</td><td>${escapeXml(row.value)}</td><td>${escapeXml(row.target)}</td><td>${row.met === undefined ? '' : row.met ? 'yes' : 'no'}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>checkout-saga bench ${escapeXml(r.startedAt)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
table{border-collapse:collapse;margin:12px 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
tr.miss td{background:#fde8e8}tr.met td:last-child{color:#176b1e}figure{margin:18px 0}code{background:#f4f4f4;padding:1px 4px}
</style></head><body>
<h1>checkout-saga bench</h1>
<p>Run <code>${escapeXml(r.runId)}</code> (${escapeXml(r.kind)}), started ${escapeXml(r.startedAt)}, ${r.durationS ?? '?'} s.
Machine: ${r.machine.cpus} × ${escapeXml(r.machine.cpuModel)}, ${r.machine.memGb} GB; load average before ${r.machine.loadBefore.map((v) => v.toFixed(2)).join(' ')}${r.machine.loadAfter ? `, after ${r.machine.loadAfter.map((v) => v.toFixed(2)).join(' ')}` : ''}.
Knobs: ${Object.keys(r.knobs).length ? Object.entries(r.knobs).map(([k, v]) => `<code>${escapeXml(k)}=${escapeXml(v)}</code>`).join(' ') : 'defaults'}.</p>
${r.error ? `<p style="color:#b00"><b>The run failed:</b> ${escapeXml(r.error)}</p>` : ''}
<table><tr><th>phase</th><th>metric</th><th>value</th><th>target</th><th>met?</th></tr>${rowsHtml}</table>
${charts.map((c) => `<figure>${c}</figure>`).join('\n')}
<h2>CPU (mean % of one core) and peak memory per phase</h2>
<p>"${escapeXml(OTHER_LABEL)}" is everything on the machine this run did not start: when it is high, the figures above are not the service's.</p>
${cpuTable}
</body></html>
`;
}
