import { randomBytes, randomInt } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import postgres from 'postgres';
import { parseConfig } from '../../../src/config';
import { temporalDataConverter } from '../../../src/temporal/data-converter';
import { StackError } from '../../stack';
import { formatDuration } from '../../stack/progress';
import { stopOnSignals } from '../../stack/shutdown';
import { createHttpClient, type HttpClient } from '../http-client';
import { startFaultStack, type FaultStack } from './fault-stack';
import { gatherFacts } from './facts';
import { checkInvariants, type InvariantResult } from './invariants';
import { createRandom } from './random';
import { detailOffenders, formatInvariants, formatObservations, observe, writeReport, type FaultsReport, type ScenarioRecord } from './report';
import { SCENARIOS, scenarioNames, type Scenario } from './scenarios';
import { DEFAULT_MIX, ENDED, newJourney, newStats, shop, type Journey, type ShopContext } from './shopper';

/**
 * `npm run faults`: a soak of fault scenarios with invariant checks. Starts its own stack (as
 * `npm start` runs it, Temporal on a SQLite file, N instances of each service process behind a load
 * balancer), drives checkouts through the HTTP API without pause while it injects one fault after
 * another, waits for every accepted checkout to end, then checks every checkout it made against
 * Stripe's, PostgreSQL's, Temporal's and Kafka's own records. Exit 0 only when every invariant holds.
 */

const RESULTS_DIR = path.resolve(__dirname, 'results');

interface Plan {
  /** New customers per second (on average: arrivals are random, as real ones are). */
  rate: number;
  /** A frozen component stays frozen, and a lone killed instance stays down, this long. */
  holdMs: number;
  /** A killed process (every instance of it, or Temporal) stays down this long. */
  downMs: number;
  /** Normal traffic before the first fault and after each recovery. */
  calmMs: number;
  /** Bound on the wait for every accepted checkout to end once the faults are over. */
  drainMs: number;
  /** Run the scenario list again while this much time has not passed (at least once). */
  durationMs: number;
  /** Give up the recovery wait after this long and note what is still wrong. */
  recoveryMs: number;
  /** A customer re-submits (same Idempotency-Key) while the service does not accept, this long. */
  postPatienceMs: number;
}

const DEFAULT_PLAN: Plan = { rate: 2, holdMs: 20_000, downMs: 5_000, calmMs: 30_000, drainMs: 600_000, durationMs: 20 * 60_000, recoveryMs: 180_000, postPatienceMs: 90_000 };
const QUICK_PLAN: Plan = { rate: 2, holdMs: 10_000, downMs: 3_000, calmMs: 10_000, drainMs: 240_000, durationMs: 0, recoveryMs: 120_000, postPatienceMs: 60_000 };

/**
 * The saga's clocks in the soak, unless set in the environment: short enough that every checkout
 * can end within the run (a lost webhook is reconciled after the payment timeout, a compensation
 * that keeps failing reaches NEEDS_ATTENTION), long enough to outlast every fault.
 */
const SOAK_SAGA_TIMINGS: Record<string, string> = {
  PAYMENT_ACTION_TIMEOUT_MS: '60000',
  COMPENSATION_RETRY_WINDOW_MS: '60000',
};

interface Options {
  quick?: boolean;
  duration?: number;
  rate?: number;
  scenarios: string[];
  hold?: number;
  calm?: number;
  drain?: number;
  instances: number;
  lowStock?: number;
  seed?: number;
  keepState?: boolean;
  out: string;
}

const positiveNumber = (name: string, integer: boolean) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new InvalidArgumentError(`${name} must be a ${integer ? 'whole ' : ''}number above 0`);
  return n;
};

function parseScenarios(value: string): string[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !scenarioNames().includes(n));
  if (unknown.length || names.length === 0) throw new InvalidArgumentError(`unknown scenario ${unknown.join(', ') || '(none given)'} (scenarios: ${scenarioNames().join(', ')})`);
  return names;
}

function parseArgs(argv: string[]): Options {
  const program = new Command('npm run faults --')
    .description('A soak of fault scenarios with invariant checks over every checkout it makes; exits 0 only when every invariant holds.')
    .option('--quick', 'one pass of every scenario with short faults (about 5 minutes on 2 cores, stack start and checks included)')
    .option('--duration <minutes>', 'repeat the scenario list until this much time has passed (default 20; --quick: one pass)', positiveNumber('--duration', false))
    .option('--rate <per-second>', 'new customers per second (default 2)', positiveNumber('--rate', false))
    .addOption(new Option('--scenarios <list>', 'run only these, comma-separated, in this order (names below)').argParser(parseScenarios).default(scenarioNames(), 'all'))
    .option('--hold <seconds>', 'how long a component stays frozen and a lone killed instance stays down (default 20, --quick 10)', positiveNumber('--hold', false))
    .option('--calm <seconds>', 'normal traffic between two faults (default 30, --quick 10)', positiveNumber('--calm', false))
    .option('--drain <seconds>', 'bound on the wait for every accepted checkout to end (default 600, --quick 240)', positiveNumber('--drain', false))
    .option('--instances <n>', 'instances of each service process: worker, API, consumers', positiveNumber('--instances', true), 2)
    .option('--low-stock <units>', 'stock of each of the three low-stock products (default: about half of what the run will ask for)', positiveNumber('--low-stock', true))
    .option('--seed <n>', 'seed of the customer mix and of the instance each scenario picks (printed by every run)', positiveNumber('--seed', true))
    .option('--keep-state', "keep the run's temp state dir (logs, data) even when every invariant holds")
    .addOption(new Option('--out <dir>', 'where the JSON report goes').default(RESULTS_DIR, 'tools/bench/faults/results'))
    .addHelpText(
      'after',
      `
Scenarios, one after another, each followed by a wait until the stack is healthy again:
${SCENARIOS.map((s) => `  ${s.name.padEnd(20)} ${s.what}`).join('\n')}

Checked over every checkout of the run (found by its customers' emails, answered or not):
  no double charge; no charge without a confirmed order or a full refund; every confirmed order
  holds its money; no oversell; every unit of stock accounted for; every accepted checkout ended
  (NEEDS_ATTENTION is a finding); the PostgreSQL row agrees with the saga; each order.confirmed once
  per CloudEvent id on Kafka; the service recovered after every fault.

The saga runs with PAYMENT_ACTION_TIMEOUT_MS=${SOAK_SAGA_TIMINGS.PAYMENT_ACTION_TIMEOUT_MS} and COMPENSATION_RETRY_WINDOW_MS=${SOAK_SAGA_TIMINGS.COMPENSATION_RETRY_WINDOW_MS} unless they are set,
so every checkout can end within the run. Other service variables are read as by npm start.
The state dir (logs of every process) is kept when an invariant fails.`,
    );
  program.parse(argv, { from: 'user' });
  return program.opts<Options>();
}

function logLine(start: number): (line: string) => void {
  return (line) => process.stdout.write(`[${((performance.now() - start) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const origin = performance.now();
  const log = logLine(origin);
  const runId = randomBytes(4).toString('hex');
  const seed = opts.seed ?? randomInt(1, 2 ** 31);
  const random = createRandom(seed);
  const base = opts.quick ? QUICK_PLAN : DEFAULT_PLAN;
  const plan: Plan = {
    ...base,
    ...(opts.rate ? { rate: opts.rate } : {}),
    ...(opts.hold ? { holdMs: opts.hold * 1000 } : {}),
    ...(opts.calm ? { calmMs: opts.calm * 1000 } : {}),
    ...(opts.drain ? { drainMs: opts.drain * 1000 } : {}),
    ...(opts.duration ? { durationMs: opts.duration * 60_000 } : {}),
  };
  const scenarios = opts.scenarios.map((name) => SCENARIOS.find((s) => s.name === name)!);
  const serviceEnv = Object.fromEntries(Object.entries(SOAK_SAGA_TIMINGS).map(([k, v]) => [k, process.env[k] || v]));
  // About half of the low-stock demand of one pass can be served: the products sell out mid-run.
  const onePassS = (plan.calmMs + scenarios.length * (plan.holdMs + plan.calmMs + 10_000)) / 1000;
  const lowStock = opts.lowStock ?? Math.max(3, Math.round((plan.rate * onePassS * DEFAULT_MIX.lowStock * 1.5) / 3 / 2));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const report: FaultsReport = {
    runId,
    seed,
    startedAt: new Date().toISOString(),
    options: { ...opts, plan, lowStock },
    serviceEnv,
    machine: { cpus: os.cpus().length, loadBefore: os.loadavg() },
    scenarios: [],
    invariants: [],
    passed: false,
  };
  log(`fault soak ${runId}, seed ${seed}: ${scenarios.map((s) => s.name).join(', ')}`);
  log(
    `  ${plan.rate} customers/s, faults held ${formatDuration(plan.holdMs)}, ${formatDuration(plan.calmMs)} calm between, ${opts.instances} instance(s) of each process, low-stock products with ${lowStock} units; ${Object.entries(serviceEnv).map(([k, v]) => `${k}=${v}`).join(' ')}`,
  );
  if (os.loadavg()[0]! > os.cpus().length) log(`! load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores: the machine is busy, faults will take longer to recover from`);

  let stack: FaultStack | undefined;
  let http: HttpClient | undefined;
  let emulator: HttpClient | undefined;
  let stopping: Promise<void> | undefined;
  const stopEverything = (keepState: boolean) =>
    (stopping ??= (async () => {
      http?.close();
      emulator?.close();
      log('stopping the stack');
      await stack?.stop({ keepState });
    })());
  stopOnSignals(() => stopEverything(false));

  try {
    stack = await startFaultStack({ runId, instances: opts.instances, lowStock, serviceEnv });
    http = createHttpClient(stack.apiUrl);
    emulator = createHttpClient(stack.stack.env.STRIPE_API_URL!);
    const journeys: Journey[] = [];
    const shoppers: Array<Promise<void>> = [];
    let scenarioNow = 'warm-up';
    let followUntil = Number.POSITIVE_INFINITY;
    const ctx: ShopContext = {
      http,
      emulator,
      random,
      runId,
      catalog: stack.catalog,
      mix: DEFAULT_MIX,
      stats: newStats(),
      scenario: () => scenarioNow,
      followUntil: () => followUntil,
      postPatienceMs: plan.postPatienceMs,
    };
    report.traffic = ctx.stats;

    let arriving = true;
    const arrivals = (async () => {
      let n = 0;
      while (arriving) {
        const journey = newJourney(ctx, ++n);
        journeys.push(journey);
        shoppers.push(shop(ctx, journey));
        await sleep(random.exponential(1000 / plan.rate));
      }
    })();
    const open = () => journeys.filter((j) => j.checkoutId && !(j.lastStatus && ENDED.includes(j.lastStatus)));
    const ticker = setInterval(() => {
      const s = ctx.stats;
      const ended = Object.entries(s.ended).map(([k, v]) => `${k} ${v}`).join(', ');
      const restarts = stack!.instances.reduce((n, i) => n + i.restarts, 0);
      log(
        `  · ${scenarioNow}: ${s.submitted} customers, ${s.accepted} accepted, ${open().length} open, ended: ${ended || 'none yet'}; POSTs sent again ${s.retriedPosts}, gave up ${s.gaveUp}; restarts ${restarts}, unexpected exits ${stack!.unexpectedExits.length}`,
      );
    }, 10_000);

    try {
      log(`▶ warm-up (${formatDuration(plan.calmMs)} of traffic)`);
      await sleep(plan.calmMs);
      const runStart = Date.now();
      for (let round = 0; round === 0 || Date.now() - runStart < plan.durationMs; round++) {
        for (const scenario of scenarios) {
          if (round > 0 && Date.now() - runStart >= plan.durationMs) break;
          report.scenarios.push(await runScenario(scenario, round, stack, plan, log, (name) => (scenarioNow = name)));
          scenarioNow = 'calm';
          await sleep(plan.calmMs);
        }
      }
    } finally {
      arriving = false;
      await arrivals;
    }

    scenarioNow = 'drain';
    followUntil = Date.now() + plan.drainMs;
    log(`▶ drain: no new customers; waiting up to ${formatDuration(plan.drainMs)} for every accepted checkout to end`);
    // A customer still retrying a POST may yet be accepted: the rows are checked once every customer has submitted or given up.
    while (journeys.some((j) => !j.submitDone) && Date.now() < followUntil) await sleep(500);
    await waitForRowsToEnd(stack.stack.env.DATABASE_URL, runId, followUntil, log);
    // What the customers still wait for (an intent that never showed up, say) is over too.
    followUntil = Date.now();
    await Promise.all(shoppers);
    clearInterval(ticker);

    log('▶ checking every checkout of the run');
    const cfg = parseConfig(stack.serviceEnv);
    const facts = await gatherFacts(
      {
        databaseUrl: stack.stack.env.DATABASE_URL,
        temporalAddress: stack.stack.env.TEMPORAL_ADDRESS,
        namespace: stack.stack.env.TEMPORAL_NAMESPACE,
        dataConverter: temporalDataConverter(cfg),
        taskQueue: stack.taskQueue,
        stripeEmulatorUrl: stack.stack.env.STRIPE_API_URL!,
        kafkaBrokers: cfg.KAFKA_BROKERS,
        topic: cfg.KAFKA_TOPIC,
        runId,
        catalog: stack.catalog,
        journeys,
      },
      log,
    );
    const runEnd = new Date().toISOString();
    const results: InvariantResult[] = [...checkInvariants(facts), recoveredAfterEveryFault(report.scenarios)];
    report.invariants = results.map((r) => detailOffenders(r, facts.checkouts, report.scenarios, runEnd));
    report.observations = observe(facts.checkouts, journeys, {
      unexpectedExits: stack.unexpectedExits,
      balancer: stack.balancer.stats,
      kafka: facts.kafka,
      postAnswers: ctx.stats.postAnswers,
    });
    report.passed = report.invariants.every((i) => i.passed);
    process.stdout.write(`\n${formatInvariants(report.invariants)}\n\n${formatObservations(report.observations)}\n\n`);
  } catch (err) {
    const message = err instanceof StackError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    log(`✗ ${message}`);
    report.error = err instanceof Error ? err.message : String(err);
    report.passed = false;
  }

  const keepState = Boolean(opts.keepState) || !report.passed;
  if (keepState && stack) report.stateDir = stack.stateDir;
  report.finishedAt = new Date().toISOString();
  report.durationS = Math.round((performance.now() - origin) / 1000);
  report.machine.loadAfter = os.loadavg();
  const file = await writeReport(opts.out, stamp, report).catch((err: unknown) => {
    log(`! could not write the report: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  });
  await stopEverything(keepState).catch((err: unknown) => log(`! stop: ${err instanceof Error ? err.message : String(err)}`));
  if (file) process.stdout.write(`Report: ${path.relative(process.cwd(), file)}\n`);
  if (report.stateDir) process.stdout.write(`State and logs kept in ${report.stateDir}\n`);
  const failed = report.invariants.filter((i) => !i.passed).map((i) => i.name);
  process.stdout.write(
    report.passed ? `Every invariant held over ${report.traffic?.submitted ?? 0} customers (${formatDuration(report.durationS * 1000)}).\n` : `FAILED: ${report.error ?? failed.join('; ')}\n`,
  );
  process.exit(report.passed ? 0 : 1);
}

async function runScenario(scenario: Scenario, round: number, stack: FaultStack, plan: Plan, log: (line: string) => void, setName: (name: string) => void): Promise<ScenarioRecord> {
  const record: ScenarioRecord = { name: scenario.name, round: round + 1, from: new Date().toISOString(), to: '', problems: [] };
  setName(scenario.name);
  log(`▶ ${scenario.name}${round > 0 ? ` (round ${round + 1})` : ''}: ${scenario.what}`);
  try {
    await scenario.run({ stack, holdMs: plan.holdMs, downMs: plan.downMs, round, log });
  } catch (err) {
    record.error = err instanceof Error ? err.message : String(err);
    log(`  ! ${scenario.name} did not run as planned: ${record.error}`);
  }
  const t0 = Date.now();
  record.problems = await stack.waitHealthy(plan.recoveryMs);
  if (record.problems.length === 0) {
    record.recoveredInMs = Date.now() - t0;
    log(`  healthy again ${formatDuration(record.recoveredInMs)} after the fault ended`);
  } else {
    log(`  ! still unhealthy ${formatDuration(plan.recoveryMs)} after the fault ended: ${record.problems.join('; ')}`);
  }
  record.to = new Date().toISOString();
  return record;
}

function recoveredAfterEveryFault(scenarios: readonly ScenarioRecord[]): InvariantResult {
  const offenders = scenarios
    .filter((s) => s.problems.length > 0 || s.error)
    .map((s) => ({ subject: `${s.name} (round ${s.round})`, detail: [s.error ? `the fault itself failed: ${s.error}` : '', ...s.problems].filter(Boolean).join('; ') }));
  return { name: 'the service recovered after every fault', rule: 'every process runs and every API instance is ready (PostgreSQL, Temporal, Kafka) after each fault', checked: scenarios.length, offenders, passed: offenders.length === 0 };
}

/**
 * The saga's own progress, from PostgreSQL: a checkout is open while its row is PROCESSING,
 * REQUIRES_ACTION or COMPENSATING. PENDING is left out: a row whose saga never started (its customer
 * gave up on 503s) stays PENDING, and the checks report it.
 */
async function waitForRowsToEnd(databaseUrl: string, runId: string, deadline: number, log: (line: string) => void): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  let nextNotice = 0;
  try {
    for (;;) {
      const rows = await sql<Array<{ status: string; count: string }>>`
        select status, count(*)::text as count from checkouts where customer_email like ${`faults-${runId}-%`} group by status`;
      const openRows = rows.filter((r) => ['PROCESSING', 'REQUIRES_ACTION', 'COMPENSATING'].includes(r.status));
      const openCount = openRows.reduce((n, r) => n + Number(r.count), 0);
      const summary = rows.map((r) => `${r.status} ${r.count}`).join(', ');
      if (openCount === 0) {
        log(`  every started checkout has ended: ${summary}`);
        return;
      }
      if (Date.now() >= deadline) {
        log(`  ! drain bound reached with ${openCount} checkout(s) still open: ${summary}`);
        return;
      }
      if (Date.now() >= nextNotice) {
        log(`  · ${openCount} checkout(s) still open (${formatDuration(deadline - Date.now())} left): ${summary}`);
        nextNotice = Date.now() + 10_000;
      }
      await sleep(2_000);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
