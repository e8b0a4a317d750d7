import type { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkerOptions } from '@temporalio/worker';

type Rule = { kind: 'permanent' } | { kind: 'transient'; remaining: number } | { kind: 'until-cleared' };

interface Gate {
  reached: Promise<void>;
  markReached: () => void;
  released: Promise<void>;
  release: () => void;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Faults at a named step, injected through the worker's own interceptor API so production code
 * carries no test hooks: fail a step for good (a non-retryable STEP_FAILED), fail it N times (a
 * transient error Temporal retries), fail it until cleared (an outage), or hold it at its start so a
 * test can act (e.g. cancel) while the step is in progress.
 */
export class StepFaults {
  private readonly rules = new Map<string, Rule>();
  private readonly gates = new Map<string, Gate>();
  readonly attempts = new Map<string, number>();
  /** Every execution, in the order they started: lets a test say which steps ran after an event. */
  readonly started: { activity: string; workflowId: string; at: number }[] = [];

  failPermanently(activity: string): void {
    this.rules.set(activity, { kind: 'permanent' });
  }

  failTimes(activity: string, times: number): void {
    this.rules.set(activity, { kind: 'transient', remaining: times });
  }

  failUntilCleared(activity: string): void {
    this.rules.set(activity, { kind: 'until-cleared' });
  }

  clear(activity?: string): void {
    if (activity) this.rules.delete(activity);
    else this.rules.clear();
  }

  /** The next execution of `activity` waits at its start until `release()`; `reached` says it got there. */
  hold(activity: string): { reached: Promise<void>; release: () => void } {
    const reached = deferred();
    const released = deferred();
    const gate: Gate = { reached: reached.promise, markReached: reached.resolve, released: released.promise, release: released.resolve };
    this.gates.set(activity, gate);
    return { reached: gate.reached, release: () => gate.release() };
  }

  interceptors(): NonNullable<WorkerOptions['interceptors']> {
    return {
      activity: [
        (ctx: Context) => ({
          inbound: {
            execute: async (input, next) => {
              const name = ctx.info.activityType;
              this.attempts.set(name, (this.attempts.get(name) ?? 0) + 1);
              this.started.push({ activity: name, workflowId: ctx.info.workflowExecution?.workflowId ?? '', at: Date.now() });
              const gate = this.gates.get(name);
              if (gate) {
                this.gates.delete(name);
                gate.markReached();
                await gate.released;
              }
              const rule = this.rules.get(name);
              if (rule?.kind === 'permanent') {
                throw ApplicationFailure.nonRetryable(`injected permanent fault in ${name}`, 'STEP_FAILED');
              }
              if (rule?.kind === 'until-cleared') throw new Error(`injected outage in ${name}`);
              if (rule?.kind === 'transient' && rule.remaining > 0) {
                rule.remaining -= 1;
                throw new Error(`injected transient fault in ${name}`);
              }
              return next(input);
            },
          },
        }),
      ],
    };
  }
}
