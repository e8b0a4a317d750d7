import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { pickFreePort, runningProcesses, startKafka, startStack, type Stack } from '../../tools/stack';

/** Every live process whose parent chain leads to `root` (PostgreSQL's backends, a JVM's helpers). */
function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // Exited while we looked.
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  return tree.filter((pid) => parents.has(pid));
}

/** Alive and not a zombie: a zombie holds no port, no file and no memory, it only awaits its parent. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

function occupyPort(): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (!address || typeof address === 'string') return reject(new Error('no address'));
      resolve({ port: address.port, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

// An empty env: a second stack beside the run's own, not the external services of process.env.
const ownStack = (components: Parameters<typeof startStack>[0]['components']) => startStack({ mode: 'test', env: {}, components, migrate: false });

describe('stack lifecycle', () => {
  // jest runs later files in this same process: the setting must not outlive this one.
  const quietBefore = process.env.STACK_QUIET;
  beforeAll(() => {
    process.env.STACK_QUIET = '1';
  });
  afterAll(() => {
    if (quietBefore === undefined) delete process.env.STACK_QUIET;
    else process.env.STACK_QUIET = quietBefore;
  });

  it('stop() leaves no process behind: the server, every backend it forked and the reaper are gone', async () => {
    const stack: Stack = await ownStack(['postgres']);
    const postmaster = stack.components.postgres?.process.pid;
    expect(postmaster).toBeDefined();
    const pids = processTree(postmaster as number);
    expect(pids.length).toBeGreaterThan(3);

    await stack.stop();

    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(stack.stateDir)).toBe(false);
    expect(runningProcesses().map((p) => p.name)).toEqual([]);
  });

  it('a parent killed with SIGKILL leaves nothing behind: the reaper stops its components', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '../fixtures/stack-child.ts')], {
      env: { ...process.env, STACK_QUIET: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const started = await new Promise<{ pid: number; stateDir: string }>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString()) as { pid: number; stateDir: string }));
      child.once('exit', (code) => reject(new Error(`stack child exited early (${String(code)})`)));
    });
    const pids = processTree(started.pid);
    expect(pids.filter(isAlive).length).toBeGreaterThan(3);

    child.kill('SIGKILL');

    expect(await eventually(() => pids.filter(isAlive).length === 0, 20_000)).toBe(true);
    rmSync(started.stateDir, { recursive: true, force: true });
  });

  it('a port in use fails at once with one line naming the port, the component and the variable to change', async () => {
    const taken = await occupyPort();
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'checkout-saga-test-'));
    try {
      await expect(startStack({ mode: 'dev', stateDir, env: { KAFKA_PORT: String(taken.port) }, components: ['kafka'] })).rejects.toThrow(
        new Error(`port ${taken.port} is in use (Kafka): stop what uses it or set KAFKA_PORT`),
      );
      await expect(startStack({ mode: 'dev', stateDir, env: { POSTGRES_PORT: String(taken.port) }, components: ['postgres'] })).rejects.toThrow(
        new Error(`port ${taken.port} is in use (PostgreSQL): stop what uses it or set POSTGRES_PORT`),
      );
    } finally {
      await taken.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('Kafka stops and starts again on the same ports with its data: a record written before the stop is read after it', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'checkout-saga-test-'));
    const broker = await startKafka({ port: await pickFreePort(), controllerPort: await pickFreePort(), dataDir: path.join(stateDir, 'kafka') });
    const topic = `restart-${randomUUID()}`;
    const client = () => new Kafka({ clientId: 'stack-test', brokers: broker.brokers, logLevel: logLevel.NOTHING });
    try {
      const admin = client().admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
      await admin.disconnect();
      const producer = client().producer({ idempotent: true });
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'survives a restart' }] });
      await producer.disconnect();

      await broker.stop();
      expect(broker.process()?.hasExited()).toBe(true);
      await broker.start();

      const consumer = client().consumer({ groupId: `stack-test-${randomUUID()}` });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const value = await new Promise<string>((resolve) => void consumer.run({ eachMessage: async ({ message }) => resolve(String(message.value)) }));
      await consumer.disconnect();
      expect(value).toBe('survives a restart');
    } finally {
      await broker.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
