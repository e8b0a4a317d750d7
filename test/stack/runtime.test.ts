import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import packageJson from '../../package.json';
import nodeRuntime from '../../tools/scripts/node-runtime.json';
import { requireStackVar } from '../support/stack-env';

/**
 * Node 20 is past its end of life. Every npm script goes through tools/scripts/bootstrap.js, which
 * runs the project on the Node package.json asks for: this machine's, when it is recent enough,
 * otherwise one it installs from the npm registry into the tools cache.
 */

const ROOT = path.resolve(__dirname, '../..');
const BOOTSTRAP = path.join(ROOT, 'tools/scripts/bootstrap.js');
const OLDER_NODE = path.join(ROOT, 'test/fixtures/older-node.cjs');

const versionParts = (version: string) => version.replace(/^v/, '').split('.').map(Number);
const major = (version: string) => versionParts(version)[0] ?? 0;
/** `>=24.11` in package.json's engines, the only form the bootstrap accepts. */
const minimum = /^>=(\d+(?:\.\d+){0,2})$/.exec(packageJson.engines.node)?.[1] ?? 'unparsable engines.node';
const isAtLeast = (version: string, min: string) => {
  const [a, b] = [versionParts(version), versionParts(min)];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
};
const nodeVersionOf = (executable: string) => spawnSync(executable, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();

describe('the Node the project runs on', () => {
  it('declares one Node everywhere, Node 24 LTS: package.json engines, the Docker image, @types/node and the Node the bootstrap installs', () => {
    const dockerFroms = [...readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^FROM\s+node:(\d+)\S*/gm)].map((m) => Number(m[1]));
    expect({
      engines: major(minimum),
      docker: dockerFroms,
      typesNode: major(packageJson.devDependencies['@types/node']),
      installedByBootstrap: major(nodeRuntime.version),
    }).toEqual({ engines: 24, docker: [24, 24], typesNode: 24, installedByBootstrap: 24 });
    expect(isAtLeast(nodeRuntime.version, minimum)).toBe(true);
  });

  it('runs the tests, the stack it started and the `node` on PATH (npm, tsx, the CLI bin) on that Node, whatever Node started `npm test`', () => {
    const stateDir = requireStackVar('STACK_STATE_DIR');
    const stackChild = (name: string) => {
      const { pid } = JSON.parse(readFileSync(path.join(stateDir, 'pids', `${name}.pid`), 'utf8')) as { pid: number };
      return nodeVersionOf(realpathSync(`/proc/${pid}/exe`));
    };
    const versions = {
      'this test (a jest worker)': process.versions.node,
      'node on PATH': nodeVersionOf('node'),
      'the Stripe emulator': stackChild('stripe-emulator'),
      'the mail catcher': stackChild('maildev'),
    };
    expect(Object.entries(versions).filter(([, version]) => !isAtLeast(version, minimum))).toEqual([]);
  });

  it('on a machine whose Node is older, installs Node 24 from the npm registry into the cache on the first run and runs on it; the next run finds it there', async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), 'checkout-saga-node-cache-'));
    const installed = path.join(cache, `node-${nodeRuntime.version}`, 'bin', 'node');
    try {
      const first = await runBootstrapOnOlderNode(cache, ['cli', '--', '--help']);
      expect(first.code).toBe(0);
      expect(first.stderr).toContain(`Node 20.19.0 is older than the ${minimum} checkout-saga needs: installing Node ${nodeRuntime.version} from the npm registry`);
      // Printed by the re-run itself, from its own process.version and process.execPath.
      expect(first.stderr).toContain(`Running on Node ${nodeRuntime.version} (${installed})`);
      expect(first.stdout).toContain('Usage: checkout-saga');
      expect(nodeVersionOf(installed)).toBe(nodeRuntime.version);

      const second = await runBootstrapOnOlderNode(cache, ['cli', '--', '--help']);
      expect(second.code).toBe(0);
      expect(second.stderr).not.toContain('installing Node');
      expect(second.stderr).toContain(`Running on Node ${nodeRuntime.version} (${installed})`);
      expect(second.stdout).toContain('Usage: checkout-saga');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});

function runBootstrapOnOlderNode(cache: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--require', OLDER_NODE, BOOTSTRAP, ...args], {
    cwd: ROOT,
    env: { ...process.env, CHECKOUT_SAGA_CACHE: cache },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
