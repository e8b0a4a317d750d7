import type * as Resources from '@opentelemetry/resources';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type * as TemporalOpenTelemetry from '@temporalio/interceptors-opentelemetry';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import { currentTracing } from './current';

/**
 * How a trace crosses Temporal: the SDK's OpenTelemetry interceptors carry the W3C context in a
 * Temporal header (`_tracer-data`) from the client that starts or signals a workflow into the
 * workflow, and from the workflow into each activity it schedules. Each function here gives its
 * interceptors only while this process traces, so an untraced process adds no header, no span and
 * no call to workflow histories or activity tasks.
 */

/** For the Temporal client of the API: starting a workflow inside a request puts the request's trace into its start headers. */
export function workflowClientInterceptors(): WorkflowClientInterceptor[] {
  return currentTracing() ? [new (temporalOpenTelemetry().OpenTelemetryWorkflowClientInterceptor)()] : [];
}

/** For the worker: each activity attempt a span, child of the workflow's span that scheduled it. */
export function activityTracingInterceptors(): ActivityInterceptorsFactory[] {
  if (!currentTracing()) return [];
  const { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } = temporalOpenTelemetry();
  return [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })];
}

/**
 * The sink through which workflow code's spans leave the sandbox (src/workflows/interceptors.ts).
 * Always registered, because the bundle is the same whether this worker traces or not and a traced
 * client may start a workflow here: without tracing the spans are dropped at the door.
 */
export function workflowSpanSinks(): InjectedSinks<OpenTelemetrySinks> {
  const tracing = currentTracing();
  if (!tracing) return { exporter: { export: { fn: () => undefined } } };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Resource } = require('@opentelemetry/resources') as typeof Resources;
  const sink = temporalOpenTelemetry().makeWorkflowExporter(tracing.spanProcessor, new Resource(tracing.resource.attributes));
  // The SDK copies every field of the workflow info it is given onto each span: search attributes
  // (the customer's email), memo, the last result. The span needs only to say which run it is.
  return { exporter: { export: { ...sink.export, fn: (info, spans) => sink.export.fn(workflowRun(info), spans) } } };
}

function workflowRun({ workflowId, runId, workflowType, taskQueue, namespace, attempt }: WorkflowInfo): WorkflowInfo {
  return { workflowId, runId, workflowType, taskQueue, namespace, attempt } as WorkflowInfo;
}

/** The SDK's interceptors, loaded once the process traces: one that does not never loads them (src/tracing/current.ts). */
function temporalOpenTelemetry(): typeof TemporalOpenTelemetry {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@temporalio/interceptors-opentelemetry') as typeof TemporalOpenTelemetry;
}
