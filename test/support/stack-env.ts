import type { StackEnv } from '../../tools/stack';

/**
 * The local stack's environment, as test/setup/global-setup.ts put it into process.env. A test run
 * some other way (an IDE running one file without the global set-up) fails here with the fix,
 * rather than later with a connection refused on a default port.
 */
const REQUIRED = ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'KAFKA_BROKERS', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'SMTP_URL', 'STACK_STATE_DIR'] as const;

export function stackEnv(): StackEnv {
  const missing = REQUIRED.filter((name) => !process.env[name]);
  if (missing.length) {
    throw new Error(`${missing.join(', ')} not set: the local stack is not up. Run tests with \`npm test\` (its global set-up starts the stack), or export the lines printed by \`npm run stack -- --test\``);
  }
  return process.env as unknown as StackEnv;
}

/** One optional variable of the stack that a test cannot do without (e.g. STRIPE_API_URL, TEMPORAL_UI_URL). */
export function requireStackVar(name: keyof StackEnv | 'WORKFLOW_BUNDLE_PATH'): string {
  stackEnv();
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the local stack was started without the component that provides it`);
  return value;
}
