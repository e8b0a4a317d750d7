#!/usr/bin/env node
'use strict';
// The npm bin: runs the TypeScript CLI through tsx, so operators need no build step.
require('tsx/cjs');
const { main } = require('../src/cli/main.ts');

main(process.argv).then((code) => {
  process.exitCode = code;
  // Everything is closed by now; this only guards against a stray handle keeping the shell waiting.
  setTimeout(() => process.exit(code), 2000).unref();
});
