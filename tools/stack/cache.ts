import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Tools the local stack builds or downloads (the temporal CLI, stripe-mock, Kafka's jars) live
 * outside the clone, keyed by version, so a second clone, a `git clean` or CI on the same machine
 * starts in seconds instead of rebuilding for minutes.
 */
export function cacheRoot(): string {
  return path.resolve(process.env.CHECKOUT_SAGA_CACHE || path.join(os.homedir(), '.cache', 'checkout-saga'));
}

/** `<cache>/<name>-<version>`: a new version never reuses (or breaks) an older one's files. */
export function cacheDir(name: string, version: string): string {
  return path.join(cacheRoot(), `${name}-${version}`);
}

/** Build and install output goes here rather than to the terminal, so a failure can point at it. */
export function cacheLogFile(name: string): string {
  return path.join(cacheRoot(), 'logs', `${name}.log`);
}

/**
 * Fills a cache entry at most once, even when two stacks (two test runs, a test run and `npm start`)
 * need the same missing tool at the same moment: the first builds into a scratch directory and
 * renames it into place, the others wait for the lock and then find it done.
 */
export async function ensureCached(
  dir: string,
  isComplete: (dir: string) => boolean,
  build: (scratchDir: string) => Promise<void>,
): Promise<string> {
  if (isComplete(dir)) return dir;
  await fs.mkdir(path.dirname(dir), { recursive: true });
  const release = await acquireLock(`${dir}.lock`);
  try {
    if (isComplete(dir)) return dir;
    const scratch = `${dir}.partial-${process.pid}`;
    await fs.rm(scratch, { recursive: true, force: true });
    await fs.mkdir(scratch, { recursive: true });
    try {
      await build(scratch);
      await fs.rm(dir, { recursive: true, force: true });
      await fs.rename(scratch, dir);
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
    if (!isComplete(dir)) throw new Error(`cache entry ${dir} is still incomplete after building it`);
    return dir;
  } finally {
    await release();
  }
}

/** Runs `fn` while holding `<cache>/<name>.lock`, which other processes on this machine respect. */
export async function withCacheLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  await fs.mkdir(cacheRoot(), { recursive: true });
  const release = await acquireLock(path.join(cacheRoot(), `${name}.lock`));
  try {
    return await fn();
  } finally {
    await release();
  }
}

async function acquireLock(lockFile: string): Promise<() => Promise<void>> {
  for (;;) {
    try {
      await fs.writeFile(lockFile, String(process.pid), { flag: 'wx' });
      return () => fs.rm(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number((await fs.readFile(lockFile, 'utf8').catch(() => '')).trim());
    // A lock left by a process that died mid-build must not block every later start.
    if (!holder || !isAlive(holder)) {
      await fs.rm(lockFile, { force: true });
      continue;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
