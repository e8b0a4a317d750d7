import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import type { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { detectResourcesSync, envDetectorSync, Resource, type IResource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { currentTracing, setCurrentTracing } from './current';
import { httpInstrumentation } from './http';
import { withoutPersonalData } from './redaction';
import { tracingSettings } from './settings';

/**
 * One process's OpenTelemetry tracing: a tracer provider registered as the global one (so the
 * OpenTelemetry API calls in the Kafka publisher and consumers, the Temporal SDK's interceptors and
 * the HTTP instrumentation all record into it), the W3C Trace Context propagator, an
 * AsyncLocalStorage context manager, and a batch exporter behind the redaction of personal data.
 * While no process has started it, every one of those API calls is the API's no-op.
 */
export interface Tracing {
  /** service.name and the OTEL_RESOURCE_ATTRIBUTES: also the resource of the workflow spans the worker exports for its sandbox. */
  readonly resource: IResource;
  /** Where finished spans go: the worker hands workflow spans to it through its sink (src/tracing/temporal.ts). */
  readonly spanProcessor: SpanProcessor;
  /**
   * The instrumentation that gives every HTTP request its server span and every outgoing call (Stripe)
   * a client span. It patches `http` when that module is required, so it must be on before express and
   * the Stripe SDK load it: hence src/tracing/register-*.ts as each entry point's first import.
   */
  readonly httpInstrumentation: HttpInstrumentation;
  /** Exports what has ended so far. */
  forceFlush(): Promise<void>;
  /** Exports what is left and unregisters everything, so the API is the no-op again. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** service.name unless OTEL_SERVICE_NAME says otherwise: checkout-saga-api, -worker, -consumers. */
  serviceName: string;
  /** Where spans go; the entry points export over OTLP (startTracingFromEnv), a test keeps them in memory. */
  exporter: SpanExporter;
}

/** Starts tracing when the environment configures an OTLP endpoint (src/tracing/settings.ts); otherwise does nothing. */
export function startTracingFromEnv(serviceName: string, env: NodeJS.ProcessEnv = process.env): Tracing | undefined {
  if (!tracingSettings(env)) return undefined;
  // The exporter reads the endpoint, headers, timeout and compression from the same variables.
  return startTracing({ serviceName, exporter: new OTLPTraceExporter() });
}

export function startTracing({ serviceName, exporter }: TracingOptions): Tracing {
  if (currentTracing()) throw new Error('tracing is already started in this process');
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the name given here.
  const resource = new Resource({ 'service.name': serviceName }).merge(detectResourcesSync({ detectors: [envDetectorSync] }));
  const spanProcessor = withoutPersonalData(new BatchSpanProcessor(exporter));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // The global provider, the AsyncLocalStorage context manager and the propagators of
  // OTEL_PROPAGATORS (W3C Trace Context and Baggage by default).
  provider.register();
  const http = httpInstrumentation();
  const unregister = registerInstrumentations({ instrumentations: [http], tracerProvider: provider });

  const tracing: Tracing = {
    resource: provider.resource,
    spanProcessor,
    httpInstrumentation: http,
    forceFlush: () => provider.forceFlush(),
    async shutdown() {
      if (currentTracing() !== tracing) return;
      setCurrentTracing(undefined);
      unregister();
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
  setCurrentTracing(tracing);
  return tracing;
}
