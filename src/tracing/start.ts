import { ConfigError } from '../config';
import { logger } from '../logger';
import { tracingSettings } from './settings';
import type * as TracingModule from './tracing';

/**
 * What each entry point's first import runs. A bad OTEL_* value stops the process with the same
 * one-line report as any other configuration error, before it serves anything; this runs while
 * modules are still loading, ahead of the entry point's own error handling.
 */
export function startTracingOrExit(serviceName: string): void {
  try {
    // Asked first, so that a process not configured to trace never loads the SDK (src/tracing/current.ts).
    if (!tracingSettings()) return;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startTracingFromEnv } = require('./tracing') as typeof TracingModule;
    const tracing = startTracingFromEnv(serviceName);
    if (tracing) logger.info({ serviceName: tracing.resource.attributes['service.name'] }, 'tracing on: spans exported over OTLP');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    logger.fatal(err.message);
    process.exit(1);
  }
}
