#!/usr/bin/env node
'use strict';

/*
 * Entry point of every npm script (start, test, fuzz, cli, bench, faults, stack). Plain Node with no
 * dependencies, because it runs before node_modules is known to be there: it checks the Node
 * version, installs dependencies when they are missing or stale, then runs the command in a child
 * process and mirrors its exit.
 */

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const MIN_NODE = [20, 19];

const COMMANDS = {
  start: { what: 'the service and its local stack', run: (args) => tsx('tools/scripts/start.ts', args) },
  stack: { what: 'only the local stack', run: (args) => tsx('tools/scripts/stack.ts', args) },
  test: { what: 'the test suite on a fresh local stack', run: (args) => node([require.resolve('jest/bin/jest', { paths: [ROOT] }), ...args]) },
  // The fuzz test alone (test/api/fuzz.test.ts), on its own fresh stack; FUZZ_MAX_EXAMPLES and FUZZ_SEED tune it.
  fuzz: { what: 'the API fuzzer (Schemathesis) alone, on a fresh local stack', run: (args) => node([require.resolve('jest/bin/jest', { paths: [ROOT] }), 'test/api/fuzz.test.ts', ...args]) },
  cli: { what: 'the operations CLI', run: (args) => tsx('src/cli/main.ts', args) },
  bench: { what: 'the throughput benchmark', run: (args) => tsx('tools/bench/run.ts', args) },
  faults: { what: 'the fault soak (invariants under killed and frozen components)', run: (args) => tsx('tools/bench/faults/run.ts', args) },
};

function main() {
  checkNodeVersion();
  const [command, ...rest] = process.argv.slice(2);
  // `npm run x -- args` strips the `--`; called directly (`node tools/scripts/bootstrap.js x -- args`) do the same.
  const args = rest[0] === '--' ? rest.slice(1) : rest;
  const entry = COMMANDS[command];
  if (!entry) {
    const list = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(6)} ${c.what}`).join('\n');
    process.stderr.write(`usage: node tools/scripts/bootstrap.js <command> [args...]\n${list}\n`);
    process.exit(2);
  }
  installDependenciesIfNeeded();
  const { file, argv } = entry.run(args);
  runChild(file, argv);
}

function checkNodeVersion() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
    process.stderr.write(`checkout-saga needs Node ${MIN_NODE.join('.')} or newer (this is ${process.versions.node}): install it, e.g. with nvm: \`nvm install 20\`\n`);
    process.exit(1);
  }
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
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['install', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  if (result.error || result.status !== 0) {
    process.stderr.write(`npm install failed${result.error ? `: ${result.error.message}` : ` (exit code ${result.status})`}; fix the error above and run the command again\n`);
    process.exit(1);
  }
}

function node(argv) {
  return { file: process.execPath, argv };
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
function runChild(file, argv) {
  const child = spawn(file, argv, { cwd: ROOT, stdio: 'inherit' });
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
