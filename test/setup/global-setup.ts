import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { workflowBundleOptions } from '../../src/workers/build-workflow-bundle';
import { startStack } from '../../tools/stack';
import { formatDuration, progress } from '../../tools/stack/progress';
import { ensureSchemathesis, SCHEMATHESIS_VERSION } from '../../tools/stack/schemathesis';
import { stopOnSignals } from '../../tools/stack/shutdown';
import { holdStack } from './stack-holder';

/**
 * Starts one local stack for the whole run (test mode: free ports, fresh temp state) and hands its
 * environment to the tests through process.env, which jest's workers inherit. The workflow bundle
 * is built here once, in parallel with the stack, instead of once per test file.
 */

const WORKFLOWS_ENTRY = path.resolve(__dirname, '../../src/workflows/index.ts');

export default async function globalSetup(): Promise<void> {
  process.stderr.write('\n');
  const [stack, bundle, fuzzer] = await Promise.allSettled([startStack({ mode: 'test' }), buildWorkflowBundle(), installFuzzer()]);
  if (stack.status === 'rejected') throw stack.reason;
  holdStack(stack.value);
  // Ctrl-C during a run: stop the stack in order instead of relying on the reapers alone.
  stopOnSignals(() => stack.value.stop());
  if (bundle.status === 'rejected') {
    // Not fatal: the stack, API and compose tests do not run workflows, and every test that does
    // fails with the bundler's error (its own worker bundles again) instead of the run not starting.
    const reason = bundle.reason instanceof Error ? bundle.reason.message : String(bundle.reason);
    progress.line(`  ✗ workflow bundle failed (${reason.split('\n')[0]}); tests that run workflows will fail`);
  }

  if (fuzzer.status === 'rejected') {
    // Not fatal either: only test/api/fuzz.test.ts needs it, and it fails with this reason.
    const reason = fuzzer.reason instanceof Error ? fuzzer.reason.message : String(fuzzer.reason);
    progress.line(`  ✗ Schemathesis ${SCHEMATHESIS_VERSION} not installed (${reason.split('\n')[0]}); the API fuzz test will fail`);
  } else {
    progress.line(`  ✓ ${`Schemathesis ${SCHEMATHESIS_VERSION}`.padEnd(24)} ${fuzzer.value.st.padEnd(26)} ${formatDuration(fuzzer.value.ms)}`);
  }

  Object.assign(process.env, stack.value.env);
  // The service logs at info by default; in a test run that buries the failures.
  process.env.LOG_LEVEL ??= 'warn';
  // A worker or API process started by a test must not bind the fixed dev metrics ports: two runs would clash.
  process.env.WORKER_METRICS_PORT ??= '0';
  process.env.API_METRICS_PORT ??= '0';
  // No process of a test run exports traces to an OTLP endpoint left in the developer's shell (unless
  // the shell sets OTEL_SDK_DISABLED itself); the tracing test traces into memory by itself (test/tracing).
  process.env.OTEL_SDK_DISABLED ??= 'true';
  // Every suite's requests come from 127.0.0.1: per-client limits would throttle one suite for the
  // checkouts of another. The abuse-limit tests turn them on for apps of their own.
  for (const limit of ['RATE_LIMIT_CHECKOUTS_PER_MINUTE', 'RATE_LIMIT_CANCELS_PER_MINUTE', 'RATE_LIMIT_LOGINS_PER_MINUTE', 'CHECKOUT_MAX_IN_FLIGHT_PER_CLIENT']) {
    process.env[limit] ??= '0';
  }
  // Every suite shares one database but runs its own worker, and suites leave checkouts parked on
  // purpose (workers stopped, 3-D Secure never answered): counted together they would shed the next
  // suite's checkouts. The admission test turns the limit on for its own app.
  process.env.CHECKOUT_MAX_IN_FLIGHT ??= '0';
  if (bundle.status === 'fulfilled' && bundle.value) {
    const file = path.join(stack.value.stateDir, 'workflow-bundle.js');
    // jest runs no global teardown after a failed set-up: stop the stack here rather than leave it to the reapers.
    await fs.writeFile(file, bundle.value.code).catch(async (err: unknown) => {
      await stack.value.stop();
      throw err;
    });
    process.env.WORKFLOW_BUNDLE_PATH = file;
    progress.line(`  ✓ ${'workflow bundle'.padEnd(24)} ${path.relative(process.cwd(), WORKFLOWS_ENTRY).padEnd(26)} ${formatDuration(bundle.value.ms)}`);
  }
}

/** Undefined while src/workflows does not exist yet: the stack tests do not need it. */
async function buildWorkflowBundle(): Promise<{ code: string; ms: number } | undefined> {
  if (!existsSync(WORKFLOWS_ENTRY)) return undefined;
  const started = Date.now();
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  // The options every bundle is made with (its workflow interceptors and failure converter included), as the Dockerfile's.
  const { code } = await bundleWorkflowCode({ ...workflowBundleOptions(), logger: silentBundlerLogger });
  return { code, ms: Date.now() - started };
}

/** The API fuzzer (test/api/fuzz.test.ts), into the tool cache on the first run of a machine, while the stack starts. */
async function installFuzzer(): Promise<{ st: string; ms: number }> {
  const started = Date.now();
  const st = await ensureSchemathesis();
  return { st: path.dirname(path.dirname(st)), ms: Date.now() - started };
}

const ignore = () => {};
const silentBundlerLogger = {
  log: ignore,
  trace: ignore,
  debug: ignore,
  info: ignore,
  warn: (message: string) => progress.line(`  workflow bundle: ${message}`),
  error: (message: string) => progress.line(`  workflow bundle: ${message}`),
};
