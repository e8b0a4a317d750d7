/**
 * The worker process's first import (src/workers/main.ts): tracing, when OTEL_* configures it, is
 * on before the Stripe SDK loads `http`, so each Stripe call is a span inside its activity's.
 */
import { startTracingOrExit } from './start';

startTracingOrExit('checkout-saga-worker');
