/** @jest-config-loader esbuild-register */
import type { Config } from 'jest';

/**
 * Every test runs against the real local stack, started once per run by test/setup/global-setup.ts
 * on free ports (so two runs on one machine never clash) and stopped by global-teardown.ts.
 */
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // rate-limiter-flexible's Drizzle store loads drizzle-orm with a dynamic import(), which jest's
  // module sandbox refuses without --experimental-vm-modules; transformed, it becomes a require().
  // Node runs the package as it is (src/api/main.ts, test/api/main-process.test.ts).
  transformIgnorePatterns: ['/node_modules/(?!rate-limiter-flexible/)'],
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  // Tests drive whole sagas through Temporal, Kafka and Stripe webhooks, with retries and timeouts
  // of their own; a generous ceiling catches a hang without cutting a slow-but-right run short.
  testTimeout: 120_000,
  // One test file at a time. On 2 cores the stack itself (a JVM, the Temporal server, PostgreSQL)
  // needs a core; a second jest worker, each test file with its own Temporal worker, would starve it
  // and turn timeouts into flakes. Test files are isolated (own task queue, consumer group, SKUs),
  // so raising this on a bigger machine needs no other change.
  maxWorkers: 1,
  // With a memory limit jest runs that one file in a child process instead of in-band: a test that
  // crashes its process (e.g. a native Temporal runtime panic) cannot take down the process that
  // owns the stack, and a worker that accumulated native runtimes is recycled.
  workerIdleMemoryLimit: '1GB',
};

export default config;
