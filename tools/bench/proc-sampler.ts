import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * CPU and memory of each process of the stack, read from /proc once a second.
 *
 * A component is its process and every descendant (by parent pid): PostgreSQL's backends count
 * towards PostgreSQL (they call setsid(), so their process group would not find them). CPU is
 * utime+stime of every live member, plus the root's cutime+cstime (descendants it has reaped, e.g.
 * a backend whose connection closed). Memory is PSS summed over the members
 * (/proc/<pid>/smaps_rollup): for a single process it is its RSS with shared libraries split
 * fairly; for PostgreSQL it counts shared buffers once instead of once per backend, which summing
 * RSS would do.
 */

export interface TrackedProcess {
  label: string;
  pid: number;
  /** Count `pid` with all its descendants (components), or only `pid` (the bench itself, whose children are the stack). */
  tree: boolean;
}

export interface ProcessSample {
  /** % of one core over the last interval (200 = two cores busy). */
  cpu: number;
  /** MB (PSS, see above). */
  memMb: number;
}

export interface ProcessSummary {
  cpuMean: number;
  cpuMax: number;
  memMaxMb: number;
}

export interface Sample {
  /** Seconds since the sampler started. */
  t: number;
  phase: string;
  processes: Record<string, ProcessSample>;
}

interface Stat {
  pid: number;
  ppid: number;
  ticks: number;
  childTicks: number;
}

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
    return {
      pid,
      ppid: Number(fields[1]),
      ticks: Number(fields[11]) + Number(fields[12]),
      childTicks: Number(fields[13]) + Number(fields[14]),
    };
  } catch {
    return undefined;
  }
}

function pssKb(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+) kB/m.exec(text);
    if (match) return Number(match[1]);
  } catch {
    // Gone, or smaps_rollup unavailable: fall back to RSS below.
  }
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Pseudo-process: CPU used on this machine by anything the bench did not start. */
export const OTHER_LABEL = 'other (not ours)';
const CORES = cpus().length;

/** Busy and total jiffies of all cores, from the first line of /proc/stat. */
function readMachineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    const total = values.slice(0, 8).reduce((a, v) => a + v, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export class ProcSampler {
  readonly samples: Sample[] = [];
  private readonly tracked: TrackedProcess[] = [];
  private previous = new Map<string, { ticks: number; at: number }>();
  private previousMachine: { busy: number; total: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  phase = 'start';

  /** `startedAt`: time zero of the samples (performance.now() clock), shared with the other charts. */
  constructor(private readonly startedAt: number = performance.now()) {}

  track(process: TrackedProcess): void {
    if (!this.tracked.some((p) => p.label === process.label)) this.tracked.push(process);
  }

  untrack(label: string): void {
    const i = this.tracked.findIndex((p) => p.label === label);
    if (i >= 0) this.tracked.splice(i, 1);
  }

  get labels(): string[] {
    return [...this.tracked.map((p) => p.label), OTHER_LABEL];
  }

  start(intervalMs = 1_000): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The latest memory of one process, MB (for the soak's per-1,000 rows). */
  latestMemMb(label: string): number | undefined {
    for (let i = this.samples.length - 1; i >= 0; i--) {
      const s = this.samples[i]!.processes[label];
      if (s) return s.memMb;
    }
    return undefined;
  }

  /** Mean CPU % and peak memory per process over the samples of `phase`. */
  phaseSummary(phase: string): Record<string, ProcessSummary> {
    return this.summarize(this.samples.filter((s) => s.phase === phase));
  }

  /** The same over the samples taken between two times (seconds since the start). */
  summaryBetween(fromS: number, toS: number): Record<string, ProcessSummary> {
    return this.summarize(this.samples.filter((s) => s.t > fromS && s.t <= toS));
  }

  /** Seconds since the start, on the samples' clock. */
  now(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  private summarize(inPhase: Sample[]): Record<string, ProcessSummary> {
    const out: Record<string, ProcessSummary> = {};
    for (const label of this.labels) {
      const values = inPhase.map((s) => s.processes[label]).filter((v): v is ProcessSample => v !== undefined);
      if (values.length === 0) continue;
      out[label] = {
        cpuMean: values.reduce((a, v) => a + v.cpu, 0) / values.length,
        cpuMax: Math.max(...values.map((v) => v.cpu)),
        memMaxMb: Math.max(...values.map((v) => v.memMb)),
      };
    }
    return out;
  }

  sample(): void {
    const now = performance.now();
    let names: string[] = [];
    try {
      names = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
    } catch {
      return;
    }
    const stats = new Map<number, Stat>();
    const children = new Map<number, number[]>();
    for (const name of names) {
      const stat = readStat(Number(name));
      if (!stat) continue;
      stats.set(stat.pid, stat);
      const siblings = children.get(stat.ppid) ?? [];
      siblings.push(stat.pid);
      children.set(stat.ppid, siblings);
    }
    const descendants = (root: number): Stat[] => {
      const out: Stat[] = [];
      const queue = [root];
      while (queue.length > 0) {
        const pid = queue.pop()!;
        const stat = stats.get(pid);
        if (stat) out.push(stat);
        queue.push(...(children.get(pid) ?? []));
      }
      return out;
    };
    const processes: Record<string, ProcessSample> = {};
    for (const p of this.tracked) {
      const members = p.tree ? descendants(p.pid) : [stats.get(p.pid)].filter((s): s is Stat => s !== undefined);
      const root = members.find((s) => s.pid === p.pid);
      if (!root) continue;
      const ticks = members.reduce((sum, s) => sum + s.ticks, 0) + (p.tree ? root.childTicks : 0);
      const memKb = members.reduce((sum, s) => sum + pssKb(s.pid), 0);
      const before = this.previous.get(p.label);
      this.previous.set(p.label, { ticks, at: now });
      if (!before) continue;
      const seconds = (now - before.at) / 1000;
      const cpu = seconds > 0 ? Math.max(0, ((ticks - before.ticks) / clockTicks / seconds) * 100) : 0;
      processes[p.label] = { cpu, memMb: memKb / 1024 };
    }
    // Everything else on the machine (other engineers' test runs, say): a busy neighbour makes
    // the figures meaningless, and this is where the report shows it.
    const machine = readMachineTicks();
    if (machine && this.previousMachine) {
      const busy = machine.busy - this.previousMachine.busy;
      const total = machine.total - this.previousMachine.total;
      if (total > 0) {
        const allCpu = (busy / total) * CORES * 100;
        const ours = Object.values(processes).reduce((sum, v) => sum + v.cpu, 0);
        processes[OTHER_LABEL] = { cpu: Math.max(0, allCpu - ours), memMb: 0 };
      }
    }
    if (machine) this.previousMachine = machine;
    if (Object.keys(processes).length > 0) {
      this.samples.push({ t: Math.round((now - this.startedAt) / 100) / 10, phase: this.phase, processes });
    }
  }
}
