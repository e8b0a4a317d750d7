import { existsSync } from 'node:fs';
import { cacheLogFile, withCacheLock } from './cache';
import { formatDuration, progress } from './progress';
import { findOnPath, MissingToolError, requireTool, runCommand } from './processes';

/**
 * Chromium for the end-to-end browser tests (driven by playwright-core, which brings no browser of
 * its own here): Debian's `chromium` package, installed on first use the way the stack builds the
 * temporal CLI on first use.
 */

export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a headless run in a container: no sandbox (root), no GPU, and no calls home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Path of a Chromium binary (`CHROMIUM_PATH`, or Debian's), installing the package when it is missing. */
export async function ensureChromium(): Promise<string> {
  const override = process.env.CHROMIUM_PATH;
  if (override) {
    if (!existsSync(override)) throw new MissingToolError(override, 'as CHROMIUM_PATH', 'point CHROMIUM_PATH at a Chromium binary or unset it');
    return override;
  }
  const found = existsSync(DEFAULT_CHROMIUM_PATH) ? DEFAULT_CHROMIUM_PATH : findOnPath('chromium');
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new MissingToolError('chromium', 'for the browser tests', 'install it as root (`sudo apt-get update && sudo apt-get install -y chromium`) or set CHROMIUM_PATH');
  }
  const aptGet = requireTool('apt-get', 'to install Chromium for the browser tests', 'install Chromium with your package manager and set CHROMIUM_PATH');
  // Two test runs reaching this together would otherwise fight over apt's own lock and one would fail.
  return withCacheLock('chromium-install', async () => {
    if (existsSync(DEFAULT_CHROMIUM_PATH)) return DEFAULT_CHROMIUM_PATH;
    const logFile = cacheLogFile('apt');
    const started = Date.now();
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    progress.line(`  installing Chromium with apt-get (a minute or two, once per machine; log: ${logFile})`);
    await runCommand(aptGet, ['update'], { label: 'apt-get update', logFile, env, progressEveryMs: 15_000 });
    await runCommand(aptGet, ['install', '-y', 'chromium'], { label: 'apt-get install chromium', logFile, env, progressEveryMs: 15_000 });
    if (!existsSync(DEFAULT_CHROMIUM_PATH)) throw new MissingToolError('chromium', 'for the browser tests', `apt-get installed the package but ${DEFAULT_CHROMIUM_PATH} is missing [log: ${logFile}]`);
    progress.line(`  installed Chromium in ${formatDuration(Date.now() - started)}`);
    return DEFAULT_CHROMIUM_PATH;
  });
}
