import { ConfigError } from '../config';
import { logger } from '../logger';
import { startTracingFromEnv } from './tracing';

/**
 * What each entry point's first import runs. A bad OTEL_* value stops the process with the same
 * one-line report as any other configuration error, before it serves anything; this runs while
 * modules are still loading, ahead of the entry point's own error handling.
 */
export function startTracingOrExit(serviceName: string): void {
  try {
    const tracing = startTracingFromEnv(serviceName);
    if (tracing) logger.info({ serviceName: tracing.resource.attributes['service.name'] }, 'tracing on: spans exported over OTLP');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    logger.fatal(err.message);
    process.exit(1);
  }
}
