import type { Stack } from '../../tools/stack';

/**
 * Where global-teardown.ts finds the stack global-setup.ts started: both run in jest's main process
 * but in separate module registries, so only globalThis is shared.
 */
const STACK_KEY = Symbol.for('checkout-saga.test-stack');
type Holder = { [STACK_KEY]?: Stack };

export function holdStack(stack: Stack): void {
  (globalThis as Holder)[STACK_KEY] = stack;
}

export function releaseStack(): Stack | undefined {
  const holder = globalThis as Holder;
  const stack = holder[STACK_KEY];
  delete holder[STACK_KEY];
  return stack;
}
