import { cacheLogFile, withCacheLock } from './cache';
import { formatDuration, progress } from './progress';
import { findOnPath, MissingToolError, requireTool, runCommand } from './processes';

/**
 * `docker-compose` to validate docker-compose.yml (`docker-compose config` needs no Docker engine,
 * which these machines lack): Debian's package (Compose 1.29), installed on first use the way the
 * browser tests install Chromium. Any `docker-compose` already on PATH is used as it is.
 */
export async function ensureDockerCompose(): Promise<string> {
  const found = findOnPath('docker-compose');
  if (found) return found;
  const install = 'sudo apt-get update && sudo apt-get install -y --no-install-recommends docker-compose';
  if (process.getuid?.() !== 0) throw new MissingToolError('docker-compose', 'to validate docker-compose.yml', `install it as root (\`${install}\`)`);
  const aptGet = requireTool('apt-get', 'to install docker-compose, which validates docker-compose.yml', 'install docker-compose (1.29 or newer) with your package manager');
  // Two test runs reaching this together would otherwise fight over apt's own lock and one would fail.
  return withCacheLock('docker-compose-install', async () => {
    const installed = findOnPath('docker-compose');
    if (installed) return installed;
    const logFile = cacheLogFile('apt');
    const started = Date.now();
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    progress.line(`  installing docker-compose with apt-get (under a minute, once per machine; log: ${logFile})`);
    await runCommand(aptGet, ['update'], { label: 'apt-get update', logFile, env, progressEveryMs: 15_000 });
    // Without the recommended docker.io: only `config` is used, and there is no engine to talk to.
    await runCommand(aptGet, ['install', '-y', '--no-install-recommends', 'docker-compose'], { label: 'apt-get install docker-compose', logFile, env, progressEveryMs: 15_000 });
    const binary = findOnPath('docker-compose');
    if (!binary) throw new MissingToolError('docker-compose', 'to validate docker-compose.yml', `apt-get installed the package but docker-compose is not on PATH [log: ${logFile}]`);
    progress.line(`  installed docker-compose in ${formatDuration(Date.now() - started)}`);
    return binary;
  });
}
