/**
 * The API process's first import (src/api/main.ts): tracing, when OTEL_* configures it, is on
 * before express and `http` load, so the HTTP instrumentation gives every request its span.
 */
import { startTracingOrExit } from './start';

startTracingOrExit('checkout-saga-api');
