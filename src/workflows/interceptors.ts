import { defaultPayloadConverter, type Headers } from '@temporalio/common';
import type * as OpenTelemetryWorkflowInterceptors from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type {
  ActivityInput,
  ContinueAsNewInput,
  DisposeInput,
  GetLogAttributesInput,
  LocalActivityInput,
  Next,
  QueryInput,
  SignalInput,
  SignalWorkflowInput,
  StartChildWorkflowExecutionInput,
  UpdateInput,
  WorkflowExecuteInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
  WorkflowInternalsInterceptor,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

/** The header the SDK's interceptors carry the trace context in (TRACE_HEADER of the package's lib/instrumentation). */
const TRACE_HEADER = '_tracer-data';

/**
 * The workflow interceptors compiled into every bundle (src/workers/build-workflow-bundle.ts): the
 * Temporal SDK's OpenTelemetry interceptors, which give the workflow run a span (child of the span
 * that started it, from the `_tracer-data` start header) and each activity it schedules a span whose
 * context goes along in the activity's headers. Their spans leave the sandbox through the worker's
 * `exporter` sink (src/tracing/temporal.ts).
 *
 * A bundle is built once, whether the worker will trace or not, and workflow code cannot ask the
 * worker; so each workflow decides from its own start headers, which are in its history and replay
 * alike: started inside a trace (a traced API's request), it is traced; started without one (tracing
 * off, the CLI, the Web UI), every call goes straight through and it costs nothing. It does not even
 * load OpenTelemetry: each workflow evaluates the modules it loads afresh (the SDK keeps module state
 * apart per workflow), so the package is required only once a workflow turns out to be traced.
 * Interceptors add headers and spans, never commands, so histories recorded with or without them
 * replay either way.
 */
export const interceptors = (): WorkflowInterceptors => {
  const tracing = new TracedWhenStartedInATrace();
  return { inbound: [tracing], outbound: [tracing], internals: [tracing] };
};

/** True when the start headers carry a W3C trace context: what the client interceptor of a traced process puts there. */
function startedInATrace(headers: Headers): boolean {
  const encoded = headers[TRACE_HEADER];
  if (encoded === undefined) return false;
  const carrier = defaultPayloadConverter.fromPayload<Record<string, unknown> | null>(encoded);
  return typeof carrier?.traceparent === 'string';
}

class TracedWhenStartedInATrace implements WorkflowInboundCallsInterceptor, WorkflowOutboundCallsInterceptor, WorkflowInternalsInterceptor {
  /** Made at the start of a traced workflow; a signal handled before the start (same first task) is not traced. */
  private otel:
    | {
        inbound: OpenTelemetryWorkflowInterceptors.OpenTelemetryInboundInterceptor;
        outbound: OpenTelemetryWorkflowInterceptors.OpenTelemetryOutboundInterceptor;
        internals: OpenTelemetryWorkflowInterceptors.OpenTelemetryInternalsInterceptor;
      }
    | undefined;

  execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    if (!startedInATrace(input.headers)) return next(input);
    // Bundled like any import, evaluated only here (see above).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const otel = require('@temporalio/interceptors-opentelemetry/lib/workflow') as typeof OpenTelemetryWorkflowInterceptors;
    this.otel = { inbound: new otel.OpenTelemetryInboundInterceptor(), outbound: new otel.OpenTelemetryOutboundInterceptor(), internals: new otel.OpenTelemetryInternalsInterceptor() };
    return this.otel.inbound.execute(input, next);
  }

  handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>): Promise<void> {
    return this.otel ? this.otel.inbound.handleSignal(input, next) : next(input);
  }

  handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    return this.otel ? this.otel.inbound.handleUpdate(input, next) : next(input);
  }

  validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>): void {
    if (this.otel) this.otel.inbound.validateUpdate(input, next);
    else next(input);
  }

  handleQuery(input: QueryInput, next: Next<WorkflowInboundCallsInterceptor, 'handleQuery'>): Promise<unknown> {
    return this.otel ? this.otel.inbound.handleQuery(input, next) : next(input);
  }

  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    return this.otel ? this.otel.outbound.scheduleActivity(input, next) : next(input);
  }

  scheduleLocalActivity(input: LocalActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>): Promise<unknown> {
    return this.otel ? this.otel.outbound.scheduleLocalActivity(input, next) : next(input);
  }

  startChildWorkflowExecution(
    input: StartChildWorkflowExecutionInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
  ): Promise<[Promise<string>, Promise<unknown>]> {
    return this.otel ? this.otel.outbound.startChildWorkflowExecution(input, next) : next(input);
  }

  signalWorkflow(input: SignalWorkflowInput, next: Next<WorkflowOutboundCallsInterceptor, 'signalWorkflow'>): Promise<void> {
    return this.otel ? this.otel.outbound.signalWorkflow(input, next) : next(input);
  }

  continueAsNew(input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>): Promise<never> {
    return this.otel ? this.otel.outbound.continueAsNew(input, next) : next(input);
  }

  dispose(input: DisposeInput, next: Next<WorkflowInternalsInterceptor, 'dispose'>): void {
    if (this.otel) this.otel.internals.dispose(input, next);
    else next(input);
  }

  /** The workflow logger's lines carry trace_id and span_id in a traced workflow. */
  getLogAttributes(input: GetLogAttributesInput, next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>): Record<string, unknown> {
    return this.otel ? this.otel.outbound.getLogAttributes(input, next) : next(input);
  }
}
