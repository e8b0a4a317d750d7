// @ts-check
import eslint from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Node builtins: workflow code is replayed deterministically and must do no I/O of its own. */
const NODE_BUILTINS = ['fs', 'path', 'crypto', 'os', 'child_process', 'http', 'https', 'net', 'dns', 'tls', 'worker_threads', 'cluster', 'process', 'timers'];
/** Clients that do I/O: they belong in activities, which workflows reach only through proxyActivities. */
const IO_LIBRARIES = ['stripe', 'kafkajs', 'postgres', 'drizzle-orm', 'pino', 'express', 'nodemailer', 'cloudevents'];

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', '.stack/', 'coverage/', 'test/artifacts/', 'tools/bench/results/', 'tools/bench/faults/results/', '.scratch-*/'],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Plain CommonJS: the bootstrap runs before dependencies (and TypeScript support) are installed.
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The checkout page's scripts run in the browser, served as they are (no bundler).
    files: ['src/page/assets/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser } },
  },
  {
    // Service code logs through src/logger.ts (structured, secrets redacted); only the CLI talks to a terminal.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      // The typescript-eslint version of no-restricted-imports: it can tell `import type` apart.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...NODE_BUILTINS.map((name) => ({ name, message: 'Workflow code must be deterministic: no Node builtins; do I/O in an activity.' })),
            ...IO_LIBRARIES.map((name) => ({ name, message: 'Workflow code must not do I/O: call an activity through proxyActivities.' })),
          ],
          patterns: [
            { group: ['node:*'], message: 'Workflow code must be deterministic: no Node builtins; do I/O in an activity.' },
            ...IO_LIBRARIES.map((name) => ({ group: [`${name}/*`], message: 'Workflow code must not do I/O: call an activity through proxyActivities.' })),
            {
              group: ['**/activities', '**/activities/*', '**/activities/**'],
              allowTypeImports: true,
              message: 'Import activities as types only (`import type`): their implementation runs in the worker, not in the workflow sandbox.',
            },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'separate-type-imports' }],
    },
  },
);
