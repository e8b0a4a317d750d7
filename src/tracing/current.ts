import type { Tracing } from './tracing';

/**
 * The tracing this process started, if any, kept apart from the SDK that starts it: the entry points,
 * the API's Temporal client and the worker ask it, and a process that does not trace loads no more
 * of OpenTelemetry than its API (the SDK, the exporter and the instrumentation cost about 100 ms at
 * start and their memory for the life of the process).
 */
let current: Tracing | undefined;

export function currentTracing(): Tracing | undefined {
  return current;
}

/** Set by startTracing, cleared by its shutdown (src/tracing/tracing.ts). */
export function setCurrentTracing(tracing: Tracing | undefined): void {
  current = tracing;
}
