import path from 'node:path';
import { connectDatabase } from '../../db/client';
import { seedDemoCatalog } from '../../db/seed';
import { parseConfig } from '../../src/config';
import { startStack, StackError, type Stack } from '../stack';
import { formatDuration, progress } from '../stack/progress';
import { assertPortFree, stopAll, stopStaleProcess, waitUntilHealthy, type ManagedProcess } from '../stack/processes';
import { spawnWorkerAndApi, startServiceProcess, waitForApi } from '../stack/service-processes';
import { runUntilSignalled, stopOnSignals } from '../stack/shutdown';

/**
 * `npm start`: the local stack (state kept in `.stack/`, so checkouts, orders and the inbox survive
 * a restart), the demo catalog, then the worker, the API, the consumers and the codec server as
 * child processes with the stack's environment. The Temporal Web UI is pointed at the codec server,
 * or it could show only sealed payloads. Ctrl-C stops the service first (so in-flight work drains), then the stack.
 */

let stack: Stack | undefined;
const services: ManagedProcess[] = [];
let stopping: Promise<void> | undefined;
const stopEverything = () =>
  (stopping ??= (async () => {
    const t0 = Date.now();
    await stopAll(services);
    await stack?.stop();
    progress.line(`stopped in ${formatDuration(Date.now() - t0)}`);
  })());

async function main(): Promise<void> {
  const started = Date.now();
  const port = Number(process.env.PORT ?? 3000);
  const appUrl = (process.env.APP_URL ?? `http://127.0.0.1:${port}`).replace(/\/$/, '');
  const codecPort = Number(process.env.CODEC_SERVER_PORT ?? parseConfig({}).CODEC_SERVER_PORT);
  const codecUrl = `http://127.0.0.1:${codecPort}/codec`;
  stopOnSignals(stopEverything);

  stack = await startStack({ mode: 'dev', stripeWebhookUrl: `${appUrl}/webhooks/stripe`, uiCodecEndpoint: codecUrl });
  await seed(stack.env.DATABASE_URL);

  const stackDir = stack.stateDir;
  const env: NodeJS.ProcessEnv = { ...process.env, ...stack.env, PORT: String(port), APP_URL: appUrl };
  const t0 = Date.now();
  // Their logs are what a developer watches while clicking through a checkout.
  const { worker, api } = await spawnWorkerAndApi({ env, stateDir: stackDir, port, output: 'inherit' });
  services.push(worker, api);
  // The downstream consumers (order history, emails) in their own process, as in a deployment.
  await stopStaleProcess(stackDir, 'consumers', 'consumers');
  services.push(await startServiceProcess({ name: 'consumers', label: 'consumers', entry: 'src/workers/consumers-main.ts', env, stateDir: stackDir, output: 'inherit' }));
  // What the Web UI decrypts payloads with: without it the UI shows every input and result sealed.
  await stopStaleProcess(stackDir, 'codec-server', 'codec server');
  await assertPortFree(codecPort, 'codec server', 'CODEC_SERVER_PORT');
  const codecServer = await startServiceProcess({
    name: 'codec-server',
    label: 'codec server',
    entry: 'src/temporal/codec-server-main.ts',
    env: { ...env, CODEC_SERVER_PORT: String(codecPort) },
    stateDir: stackDir,
    output: 'inherit',
  });
  services.push(codecServer);
  for (const service of services) {
    void service.exited.then((info) => {
      if (stopping) return;
      progress.line(`✗ the ${service.label} exited (${info.signal ?? `code ${String(info.code)}`}); stopping everything`);
      void stopEverything().finally(() => process.exit(1));
    });
  }
  await waitForApi(port, api);
  progress.line(`  ✓ ${'worker, API, consumers'.padEnd(24)} ${`127.0.0.1:${port}`.padEnd(26)} ${formatDuration(Date.now() - t0)}`);
  await waitUntilHealthy('codec server', () => codecServerAnswers(codecUrl), { timeoutMs: 60_000, process: codecServer });
  progress.line(`  ✓ ${'codec server'.padEnd(24)} ${`127.0.0.1:${codecPort}`.padEnd(26)} ${formatDuration(Date.now() - t0)}`);

  const urls = [
    ['Checkout page + API', appUrl],
    ['Temporal Web UI', stack.env.TEMPORAL_UI_URL],
    ['Codec server', codecUrl],
    ['Mail inbox', stack.env.MAIL_INBOX_URL],
  ].filter((row): row is [string, string] => Boolean(row[1]));
  progress.line(`\ncheckout-saga is up in ${formatDuration(Date.now() - started)}\n`);
  for (const [what, url] of urls) progress.line(`  ${what.padEnd(22)} ${url}`);
  runUntilSignalled();
  progress.line(`\n  Stack logs in ${path.relative(process.cwd(), path.join(stack.stateDir, 'logs')) || '.'}; Ctrl-C stops everything.\n`);
}

/** An empty decode: 200 without a token (loopback), 401 with one; either way the server is listening. */
async function codecServerAnswers(codecUrl: string): Promise<boolean> {
  const res = await fetch(`${codecUrl}/decode`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ payloads: [] }),
    signal: AbortSignal.timeout(2_000),
  });
  await res.arrayBuffer();
  return res.status === 200 || res.status === 401;
}

async function seed(databaseUrl: string): Promise<void> {
  const t0 = Date.now();
  const db = connectDatabase(databaseUrl, 1);
  try {
    const { inserted, updated } = await seedDemoCatalog(db.db);
    progress.line(`  ✓ ${'demo catalog'.padEnd(24)} ${`${inserted} new, ${updated} kept`.padEnd(26)} ${formatDuration(Date.now() - t0)}`);
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  progress.line(err instanceof StackError ? `✗ ${err.message}` : `✗ ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  void stopEverything().finally(() => process.exit(1));
});
