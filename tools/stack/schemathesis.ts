import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { cacheDir, cacheLogFile, withCacheLock } from './cache';
import { formatDuration, progress } from './progress';
import { findOnPath, MissingToolError, runCommand, StackError } from './processes';

/**
 * Schemathesis, the property-based API fuzzer (PyPI), in a Python virtual environment in the tool
 * cache (`<cache>/schemathesis-<version>`), made once per machine from a lock of its whole dependency
 * tree; every later call only reads a marker file.
 */

export const SCHEMATHESIS_VERSION = '4.32.5';
/** Schemathesis and every dependency at an exact version: a new Hypothesis must not change a fuzz run. */
export const SCHEMATHESIS_REQUIREMENTS = path.join(__dirname, 'schemathesis', 'requirements.txt');
/** Schemathesis 4.32 and Hypothesis declare `Requires-Python: >=3.11`. */
const MIN_PYTHON: [number, number] = [3, 11];
const COMPLETE_MARKER = '.complete';

const runFile = promisify(execFile);

/** Path of the `st` executable of the cached Schemathesis, installing it on first use. */
export async function ensureSchemathesis(): Promise<string> {
  const dir = cacheDir('schemathesis', SCHEMATHESIS_VERSION);
  const st = path.join(dir, 'bin', 'st');
  const lock = lockDigest();
  if (isInstalled(dir, lock)) return st;
  return withCacheLock(path.basename(dir), async () => {
    if (isInstalled(dir, lock)) return st;
    const python = await pythonWithVenv(dir);
    const logFile = cacheLogFile('schemathesis-install');
    const started = Date.now();
    progress.line(`  installing Schemathesis ${SCHEMATHESIS_VERSION} into ${dir} with pip (under a minute, once per machine; log: ${logFile})`);
    // A virtual environment cannot be moved once made (its scripts name its interpreter by path), so
    // unlike the other cached tools it is made in place; the marker, written last, says it is whole.
    await fs.rm(dir, { recursive: true, force: true });
    try {
      await runCommand(python, ['-m', 'venv', dir], { label: 'creating the Schemathesis virtual environment', logFile });
      const venvPython = path.join(dir, 'bin', 'python');
      await runCommand(venvPython, ['-m', 'pip', 'install', '--no-input', '--disable-pip-version-check', '--no-deps', '-r', SCHEMATHESIS_REQUIREMENTS], {
        label: `installing Schemathesis ${SCHEMATHESIS_VERSION} with pip`,
        logFile,
        progressEveryMs: 15_000,
      });
      // --no-deps installs the lock as it is; a dependency missing from it is found here, not mid-fuzz.
      await runCommand(venvPython, ['-m', 'pip', 'check', '--disable-pip-version-check'], { label: 'checking the Schemathesis dependencies', logFile });
      await runCommand(st, ['--version'], { label: 'running st --version', logFile });
      await fs.writeFile(path.join(dir, COMPLETE_MARKER), lock);
    } catch (err) {
      await fs.rm(dir, { recursive: true, force: true });
      throw err;
    }
    progress.line(`  installed Schemathesis ${SCHEMATHESIS_VERSION} in ${formatDuration(Date.now() - started)}`);
    return st;
  });
}

/** Whole, from this lock, and its interpreter still there (a removed Python leaves `bin/python` dangling). */
function isInstalled(dir: string, lock: string): boolean {
  try {
    return readFileSync(path.join(dir, COMPLETE_MARKER), 'utf8') === lock && existsSync(path.join(dir, 'bin', 'python')) && existsSync(path.join(dir, 'bin', 'st'));
  } catch {
    return false;
  }
}

function lockDigest(): string {
  return createHash('sha256').update(readFileSync(SCHEMATHESIS_REQUIREMENTS)).digest('hex');
}

/** The `python3` on PATH, once it is known to be new enough and to have `venv` (Debian ships that apart). */
async function pythonWithVenv(dir: string): Promise<string> {
  const why = `to install Schemathesis ${SCHEMATHESIS_VERSION} into ${dir}`;
  const minimum = MIN_PYTHON.join('.');
  const python = findOnPath('python3');
  if (!python) throw new MissingToolError('python3', why, `install Python ${minimum} or newer with its venv module, e.g. \`apt-get install -y python3 python3-venv\``);
  // One start of the interpreter: its version first, then whether venv (and the ensurepip it needs) imports.
  const probe = "import sys; print('%d.%d' % sys.version_info[:2], flush=True); import venv, ensurepip";
  let version = '';
  let hasVenv = true;
  try {
    version = (await runFile(python, ['-c', probe], { timeout: 30_000 })).stdout.trim();
  } catch (err) {
    const failed = err as { stdout?: string; code?: unknown };
    version = (failed.stdout ?? '').trim();
    if (typeof failed.code !== 'number' || !version) throw new StackError(`${python} did not run (needed ${why}): ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    hasVenv = false;
  }
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
    throw new StackError(`Python ${version} (${python}) is too old for Schemathesis ${SCHEMATHESIS_VERSION}, which needs ${minimum} or newer: install a newer Python 3 and put it first on PATH as python3`);
  }
  if (!hasVenv) {
    throw new StackError(`\`python3 -m venv\` is not available (Python ${version} at ${python} lacks the venv/ensurepip modules; needed ${why}): install it, e.g. \`apt-get install -y python3-venv\``);
  }
  return python;
}
