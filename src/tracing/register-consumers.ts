/** The consumers process's first import (src/workers/consumers-main.ts): tracing, when OTEL_* configures it. */
import { startTracingOrExit } from './start';

startTracingOrExit('checkout-saga-consumers');
