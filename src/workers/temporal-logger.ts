import { DefaultLogger, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../logger';

const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Routes the SDK's logs (including the workflow logger's, with workflowId) into pino. */
export function temporalLogger(log: Logger): DefaultLogger {
  return new DefaultLogger('INFO', (entry) => {
    log[levels[entry.level]]({ ...entry.meta }, entry.message);
  });
}
