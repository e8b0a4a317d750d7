#!/usr/bin/env node
'use strict';

/*
 * Entry point of every npm script (start, test, fuzz, cli, bench, faults, stack). Plain Node with no dependencies, because it runs before
 * node_modules is known to be there, on whatever Node the machine has: it makes sure the command
 * runs on the Node package.json asks for (installing it into the tools cache and running itself
 * again on it when the machine's is older), installs dependencies when they are missing or stale,
 * then runs the command in a child process and mirrors its exit.
 */

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const MIN_NODE = parseMinimumNode(require('../../package.json').engines.node);
/**
 * The Node installed when the machine's is older than MIN_NODE. The npm registry's `node` package
 * at a version is a shim whose install script runs a nested `npm install node-<platform>-<arch>`
 * at the same version (the official build, headers included); the bootstrap fetches that platform
 * package itself, so no install script runs and the tarball is checked against the integrity
 * pinned here, as the lock file does for every dependency.
 */
const NODE_RUNTIME = require('./node-runtime.json');
/** Set for the copy of the bootstrap that runs on the installed Node: the machine's own version. */
const HOST_NODE_ENV = 'CHECKOUT_SAGA_HOST_NODE';

const COMMANDS = {
  start: { what: 'the service and its local stack', run: (args) => tsx('tools/scripts/start.ts', args) },
  stack: { what: 'only the local stack', run: (args) => tsx('tools/scripts/stack.ts', args) },
  test: { what: 'the test suite on a fresh local stack', run: (args) => node([require.resolve('jest/bin/jest', { paths: [ROOT] }), ...args]) },
  // The fuzz test alone (test/api/fuzz.test.ts), on its own fresh stack; FUZZ_MAX_EXAMPLES and FUZZ_SEED tune it.
  fuzz: { what: 'the API fuzzer (Schemathesis) alone, on a fresh local stack', run: (args) => node([require.resolve('jest/bin/jest', { paths: [ROOT] }), 'test/api/fuzz.test.ts', ...args]) },
  cli: { what: 'the operations CLI', run: (args) => tsx('src/cli/main.ts', args) },
  bench: { what: 'the throughput benchmark', run: (args) => tsx('tools/bench/run.ts', args) },
  faults: { what: 'the fault soak (invariants under killed and frozen components)', run: (args) => tsx('tools/bench/faults/run.ts', args) },
  'bench:kafka': { what: 'kafkajs against @platformatic/kafka on the publish and consume paths', run: (args) => tsx('tools/bench/kafka-clients.ts', args) },
  lint: { what: 'eslint', run: (args) => bin('eslint', args) },
  typecheck: { what: 'tsc --noEmit', run: (args) => bin('tsc', ['--noEmit', '-p', 'tsconfig.json', ...args]) },
  'db:generate': { what: 'drizzle-kit generate (a migration from db/schema)', run: (args) => bin('drizzle-kit', ['generate', ...args]) },
  'build:workflows': { what: 'the prebuilt workflow bundle', run: (args) => tsx('src/workers/build-workflow-bundle.ts', args) },
};

function main() {
  const [command, ...rest] = process.argv.slice(2);
  // `npm run x -- args` strips the `--`; called directly (`node tools/scripts/bootstrap.js x -- args`) do the same.
  const args = rest[0] === '--' ? rest.slice(1) : rest;
  const entry = COMMANDS[command];
  if (!entry) {
    const list = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(15)} ${c.what}`).join('\n');
    process.stderr.write(`usage: node tools/scripts/bootstrap.js <command> [args...]\n${list}\n`);
    process.exit(2);
  }
  if (!isAtLeast(process.versions.node, MIN_NODE)) {
    let rerun;
    try {
      rerun = runOnProjectNode();
    } catch (err) {
      if (!(err instanceof BootstrapError)) throw err;
      fail(err.message);
    }
    runChild(...rerun);
    return;
  }
  reportProjectNode();
  installDependenciesIfNeeded();
  const { file, argv } = entry.run(args);
  runChild(file, argv);
}

/** `>=24.11` (engines.node): the one form the bootstrap and its test read. */
function parseMinimumNode(range) {
  const match = /^>=(\d+(?:\.\d+){0,2})$/.exec(range || '');
  if (!match) throw new Error(`package.json engines.node must read ">=<version>", not ${JSON.stringify(range)}`);
  return match[1];
}

function isAtLeast(version, minimum) {
  const [a, b] = [version, minimum].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) {
    if ((a[i] || 0) !== (b[i] || 0)) return (a[i] || 0) > (b[i] || 0);
  }
  return true;
}

/**
 * This machine's Node is too old: the same command, run again by this script on the Node of
 * node-runtime.json from the tools cache (installed there first if missing). Node cannot replace
 * its own process image, so this process stays as a relay for the exit code and signals.
 */
function runOnProjectNode() {
  if (process.env[HOST_NODE_ENV]) {
    // Already the re-run: the cached Node is not what it should be; running again would loop.
    throw new BootstrapError(`${process.execPath} is Node ${process.versions.node}, not ${NODE_RUNTIME.version}: delete ${path.dirname(path.dirname(process.execPath))} and run the command again`);
  }
  const runtimeDir = ensureNodeRuntime();
  const nodeBin = path.join(runtimeDir, 'bin', 'node');
  const env = {
    ...process.env,
    [HOST_NODE_ENV]: process.versions.node,
    // Whatever the command starts as plain `node` (npm, tsx, the CLI bin, npx) is this Node too.
    PATH: [path.join(runtimeDir, 'bin'), process.env.PATH].filter(Boolean).join(path.delimiter),
    // A native addon built from source compiles against the headers shipped with this Node, not
    // those of the machine's Node (an npmrc `nodedir`) nor a download from nodejs.org.
    npm_config_nodedir: runtimeDir,
  };
  // npm sets these to the Node it runs on; tools use them to start "the current Node" again.
  for (const name of ['npm_node_execpath', 'NODE']) if (env[name]) env[name] = nodeBin;
  return [nodeBin, [__filename, ...process.argv.slice(2)], env];
}

/** In the re-run: one line saying which Node runs the command, read from this very process. */
function reportProjectNode() {
  const hostNode = process.env[HOST_NODE_ENV];
  if (!hostNode) return;
  delete process.env[HOST_NODE_ENV];
  process.stderr.write(`Running on Node ${process.versions.node} (${process.execPath}): this machine's Node ${hostNode} is older than ${MIN_NODE}\n`);
}

/**
 * `<cache>/node-<version>` holds the package's contents (bin/node, include/, share/). It is built
 * in a scratch directory and renamed into place once its `bin/node --version` is right, so a
 * directory that exists is complete; two first runs at once each build, and the second rename loses.
 */
function ensureNodeRuntime() {
  const cacheRoot = path.resolve(process.env.CHECKOUT_SAGA_CACHE || path.join(os.homedir(), '.cache', 'checkout-saga'));
  const dir = path.join(cacheRoot, `node-${NODE_RUNTIME.version}`);
  if (fs.existsSync(path.join(dir, 'bin', 'node'))) return dir;

  const platform = `${process.platform}-${process.arch}`;
  const build = NODE_RUNTIME.builds[platform];
  if (!build) {
    throw new BootstrapError(`checkout-saga needs Node ${MIN_NODE} or newer (this is ${process.versions.node}), and installs it by itself only on ${Object.keys(NODE_RUNTIME.builds).join(' and ')}: install Node ${NODE_RUNTIME.version.split('.')[0]} yourself, e.g. with nvm: \`nvm install ${NODE_RUNTIME.version.split('.')[0]}\``);
  }
  const logFile = path.join(cacheRoot, 'logs', 'node-install.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  removeAbandonedScratchDirs(dir);
  const scratch = `${dir}.partial-${process.pid}`;
  const started = Date.now();
  process.stderr.write(
    `Node ${process.versions.node} is older than the ${MIN_NODE} checkout-saga needs: installing Node ${NODE_RUNTIME.version} from the npm registry (${build.package}) into ${dir}, once per machine (log: ${logFile})\n`,
  );
  try {
    fs.mkdirSync(scratch, { recursive: true });
    const logFd = fs.openSync(logFile, 'a');
    let packed;
    try {
      packed = spawnSync(npmCommand(), ['pack', `${build.package}@${NODE_RUNTIME.version}`, '--json', '--pack-destination', scratch], {
        cwd: scratch,
        stdio: ['ignore', 'pipe', logFd],
        encoding: 'utf8',
      });
    } finally {
      fs.closeSync(logFd);
    }
    if (packed.error || packed.status !== 0) {
      throw new BootstrapError(`could not download ${build.package}@${NODE_RUNTIME.version} from the npm registry (${packed.error ? packed.error.message : `npm pack exit code ${packed.status}`}): see ${logFile}`);
    }
    const [tarball] = JSON.parse(packed.stdout);
    if (!tarball || tarball.integrity !== build.integrity) {
      throw new BootstrapError(`${build.package}@${NODE_RUNTIME.version} from the registry is not the build tools/scripts/node-runtime.json pins (integrity ${tarball ? tarball.integrity : 'unknown'}, expected ${build.integrity})`);
    }
    const archive = path.join(scratch, tarball.filename);
    const untar = spawnSync('tar', ['-xzf', archive, '-C', scratch, '--strip-components=1'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (untar.error || untar.status !== 0) throw new BootstrapError(`could not unpack ${archive}: ${untar.error ? untar.error.message : untar.stderr.trim()}`);
    fs.rmSync(archive);
    const reported = spawnSync(path.join(scratch, 'bin', 'node'), ['--version'], { encoding: 'utf8' });
    if ((reported.stdout || '').trim() !== `v${NODE_RUNTIME.version}`) {
      throw new BootstrapError(`the Node unpacked into ${scratch} does not run as Node ${NODE_RUNTIME.version} (${reported.error ? reported.error.message : (reported.stdout || reported.stderr).trim()})`);
    }
    try {
      fs.renameSync(scratch, dir);
    } catch (err) {
      // Another first run finished first: its copy is as good as this one.
      if (!fs.existsSync(path.join(dir, 'bin', 'node'))) throw err;
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  process.stderr.write(`  installed Node ${NODE_RUNTIME.version} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return dir;
}

/** A first run stopped half-way (Ctrl-C during the download) leaves `<dir>.partial-<pid>`. */
function removeAbandonedScratchDirs(dir) {
  const prefix = `${path.basename(dir)}.partial-`;
  for (const name of fs.readdirSync(path.dirname(dir))) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (pid && isAlive(pid)) continue;
    fs.rmSync(path.join(path.dirname(dir), name), { recursive: true, force: true });
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function npmCommand() {
  return process.platform === 'win32' ? 'npm.cmd' : 'npm';
}

/** A failure the user can act on: its message is the one line printed. */
class BootstrapError extends Error {}

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/**
 * Installs from the lock file when node_modules is missing, or when package-lock.json changed after
 * the last install (npm writes node_modules/.package-lock.json at the end of every install).
 * `npm install`, not `npm ci`: the registry these machines reach lacks some other platforms'
 * optional builds (e.g. @swc/core-darwin-arm64), so the lock cannot list them and `npm ci` rejects
 * it as out of sync; `npm install` honours the locked versions and skips the absent optionals.
 */
function installDependenciesIfNeeded() {
  const lock = path.join(ROOT, 'package-lock.json');
  const installed = path.join(ROOT, 'node_modules', '.package-lock.json');
  let reason;
  if (!fs.existsSync(path.join(ROOT, 'node_modules'))) reason = 'node_modules is missing';
  else if (!fs.existsSync(installed)) reason = 'node_modules was not installed by npm';
  else if (fs.existsSync(lock) && fs.statSync(lock).mtimeMs > fs.statSync(installed).mtimeMs) reason = 'package-lock.json changed since the last install';
  if (!reason) return;
  process.stderr.write(`Installing dependencies (${reason}): npm install\n`);
  const result = spawnSync(npmCommand(), ['install', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  if (result.error || result.status !== 0) {
    process.stderr.write(`npm install failed${result.error ? `: ${result.error.message}` : ` (exit code ${result.status})`}; fix the error above and run the command again\n`);
    process.exit(1);
  }
}

// process.execPath, never `node` from PATH: the command runs on the Node this script checked.
function node(argv) {
  return { file: process.execPath, argv };
}

/** A package's CLI (node_modules/.bin/<name> is a link to its script), run on this Node. */
function bin(name, args) {
  return node([fs.realpathSync(path.join(ROOT, 'node_modules', '.bin', name)), ...args]);
}

// `node --import tsx` instead of the tsx CLI: one process, so signals and exit codes need no relay.
function tsx(script, args) {
  return node(['--import', 'tsx', path.join(ROOT, script), ...args]);
}

/**
 * Runs the child in our process group, so Ctrl-C in a terminal reaches it directly; SIGINT/SIGTERM
 * sent to this process alone (a CI runner, a process manager) are forwarded. The child's handlers
 * treat the duplicate a Ctrl-C produces as one request.
 */
function runChild(file, argv, env = process.env) {
  const child = spawn(file, argv, { cwd: ROOT, stdio: 'inherit', env });
  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => forward(signal));
  child.on('error', (err) => {
    process.stderr.write(`could not run ${file}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      const number = require('node:os').constants.signals[signal] || 0;
      process.exit(128 + number);
    }
    process.exit(code === null ? 1 : code);
  });
}

main();
