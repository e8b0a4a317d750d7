import { formatDuration } from '../../stack/progress';
import type { FaultStack, InfraComponent, ServiceInstance, ServiceKind } from './fault-stack';
import { freezeTree } from './process-tree';

/**
 * The faults, one at a time, each with its recovery. Every one is something production sees: a
 * process killed by the OOM killer or a node loss (SIGKILL: no shutdown hook runs), a dependency
 * that stops answering without closing its connections (SIGSTOP: a VM pause, a GC or I/O stall),
 * the workflow server lost and brought back on its persisted state.
 */

export interface ScenarioContext {
  stack: FaultStack;
  /** How long a frozen component stays frozen, and a lone killed instance stays down (ms). */
  holdMs: number;
  /** How long a killed process stays down before it is started again (ms). */
  downMs: number;
  /** 0-based repetition of the scenario list: the one-instance scenario kills another instance each round. */
  round: number;
  log(line: string): void;
}

export interface Scenario {
  name: string;
  what: string;
  run(ctx: ScenarioContext): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function ofKind(stack: FaultStack, kind: ServiceKind): ServiceInstance[] {
  return stack.instances.filter((i) => i.kind === kind);
}

async function killAndRestart(ctx: ScenarioContext, targets: ServiceInstance[], downMs: number): Promise<void> {
  ctx.log(`  SIGKILL ${targets.map((t) => `${t.label} (pid ${t.pid ?? '?'})`).join(', ')}`);
  await Promise.all(targets.map((t) => t.kill()));
  await sleep(downMs);
  const t0 = Date.now();
  await Promise.all(targets.map((t) => t.start()));
  ctx.log(`  ${targets.map((t) => t.label).join(', ')} started again and serving in ${formatDuration(Date.now() - t0)}`);
}

function killEvery(kind: ServiceKind, label: string): Scenario {
  return {
    name: `${kind}-kill`,
    what: `every ${label} instance SIGKILLed at once, started again after the down time`,
    run: (ctx) => killAndRestart(ctx, ofKind(ctx.stack, kind), ctx.downMs),
  };
}

function freeze(component: InfraComponent): Scenario {
  return {
    name: `${component.toLowerCase()}-freeze`,
    what: `${component} frozen (SIGSTOP to all its processes) for the hold time, then SIGCONT`,
    async run(ctx) {
      const proc = ctx.stack.infra(component);
      if (!proc || proc.hasExited()) throw new Error(`${component} is not running`);
      const frozen = await freezeTree(proc.pid);
      ctx.log(`  SIGSTOP ${component} (${frozen.pids.length} process${frozen.pids.length === 1 ? '' : 'es'}) for ${formatDuration(ctx.holdMs)}`);
      try {
        await sleep(ctx.holdMs);
      } finally {
        frozen.thaw();
      }
      ctx.log(`  SIGCONT ${component}`);
    },
  };
}

export const SCENARIOS: readonly Scenario[] = [
  killEvery('worker', 'worker'),
  killEvery('api', 'API'),
  killEvery('consumers', 'consumers'),
  freeze('Kafka'),
  freeze('PostgreSQL'),
  freeze('Temporal'),
  {
    name: 'temporal-restart',
    what: 'Temporal SIGKILLed, started again on the same SQLite file after the down time',
    async run(ctx) {
      ctx.log(`  SIGKILL Temporal (pid ${ctx.stack.infra('Temporal')?.pid ?? '?'})`);
      await ctx.stack.killTemporal();
      await sleep(ctx.downMs);
      const t0 = Date.now();
      if (await ctx.stack.startTemporal()) ctx.log(`  Temporal serving again in ${formatDuration(Date.now() - t0)} (state from its SQLite file)`);
    },
  },
  {
    name: 'one-instance-killed',
    what: 'one instance of each process (worker, API, consumers) SIGKILLed and kept down for the hold time while the others serve',
    run(ctx) {
      const victims = (['worker', 'api', 'consumers'] as const).map((kind) => {
        const all = ofKind(ctx.stack, kind);
        return all[ctx.round % all.length]!;
      });
      return killAndRestart(ctx, victims, ctx.holdMs);
    },
  },
];

export function scenarioNames(): string[] {
  return SCENARIOS.map((s) => s.name);
}
