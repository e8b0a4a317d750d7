import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from '../../tools/stack/cache';
import { SCHEMATHESIS_REQUIREMENTS, SCHEMATHESIS_VERSION, ensureSchemathesis } from '../../tools/stack/schemathesis';

/**
 * Schemathesis (the API fuzzer, from PyPI) is installed by the project's own set-up into a virtual
 * environment in the tool cache, like the temporal CLI and Kafka's jars: the first call on a machine
 * installs it, every later call finds it.
 */

const run = promisify(execFile);

/** Runs `fn` with some environment variables replaced, and puts them back afterwards. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** What the installer prints while `fn` runs (it writes its progress lines to stderr). */
async function stderrOf(fn: () => Promise<unknown>): Promise<string> {
  const written: string[] = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return written.join('');
}

describe('the Schemathesis installer', () => {
  it('installs the pinned Schemathesis into a virtual environment in the tool cache, whose `st` answers', async () => {
    const st = await ensureSchemathesis();
    expect(st).toBe(path.join(cacheDir('schemathesis', SCHEMATHESIS_VERSION), 'bin', 'st'));
    const { stdout } = await run(st, ['--version']);
    expect(stdout.trim()).toBe(`st, version ${SCHEMATHESIS_VERSION}`);
  }, 600_000);

  it('finds it in the cache on a second call, without installing or printing anything', async () => {
    const st = await ensureSchemathesis();
    const venv = path.dirname(path.dirname(st));
    const before = await fs.stat(path.join(venv, 'pyvenv.cfg'));
    let again = '';
    const printed = await stderrOf(async () => {
      again = await ensureSchemathesis();
    });
    expect(again).toBe(st);
    expect(printed).toBe('');
    const after = await fs.stat(path.join(venv, 'pyvenv.cfg'));
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  }, 600_000);

  it('pins its whole dependency tree, Schemathesis at the version the installer names', () => {
    const pins = readFileSync(SCHEMATHESIS_REQUIREMENTS, 'utf8')
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('#'));
    for (const pin of pins) expect(pin).toMatch(/^[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+$/);
    expect(pins).toContain(`schemathesis==${SCHEMATHESIS_VERSION}`);
    expect(pins.some((pin) => pin.startsWith('hypothesis=='))).toBe(true);
  });

  describe('on a machine without what it needs, says so in one line', () => {
    let scratch: string;
    beforeEach(async () => {
      scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'checkout-saga-schemathesis-'));
      await fs.mkdir(path.join(scratch, 'bin'));
    });
    afterEach(async () => {
      await fs.rm(scratch, { recursive: true, force: true });
    });

    /** A `python3` that answers like the given interpreter: its version, then whether it has venv. */
    async function fakePython(version: string, hasVenv: boolean): Promise<void> {
      const script = hasVenv ? `echo ${version}\n` : `echo ${version}\necho "ModuleNotFoundError: No module named 'ensurepip'" >&2\nexit 1\n`;
      await fs.writeFile(path.join(scratch, 'bin', 'python3'), `#!/bin/sh\n${script}`, { mode: 0o755 });
    }

    const attempt = () => withEnv({ PATH: path.join(scratch, 'bin'), CHECKOUT_SAGA_CACHE: path.join(scratch, 'cache') }, () => ensureSchemathesis());

    it('when python3 is not on PATH', async () => {
      const failure = attempt();
      await expect(failure).rejects.toThrow(/^`python3` not found on PATH \(needed to install Schemathesis .*\): install Python 3\.11 or newer with its venv module/);
      await expect(failure).rejects.toThrow(/^[^\n]*$/);
    });

    it('when python3 has no venv module (Debian without python3-venv)', async () => {
      await fakePython('3.11', false);
      const failure = attempt();
      await expect(failure).rejects.toThrow(/^`python3 -m venv` is not available .*: install it, e.g\. `apt-get install -y python3-venv`/);
      await expect(failure).rejects.toThrow(/^[^\n]*$/);
    });

    it('when python3 is older than Schemathesis needs', async () => {
      await fakePython('3.9', true);
      const failure = attempt();
      await expect(failure).rejects.toThrow(`Python 3.9 (${path.join(scratch, 'bin', 'python3')}) is too old for Schemathesis ${SCHEMATHESIS_VERSION}, which needs 3.11 or newer`);
      await expect(failure).rejects.toThrow(/^[^\n]*$/);
    });
  });
});
