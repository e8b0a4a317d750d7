import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import type { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Worker } from '@temporalio/worker';
import { startApiServer, type ApiServer } from '../../src/api/main';
import { temporalDataConverter } from '../../src/temporal/data-converter';
import { workflowSpanSinks } from '../../src/tracing/temporal';
import { startTracing, type Tracing } from '../../src/tracing/tracing';
import { workflowSource } from '../../src/workers/checkout-worker';
import { checkoutWorkflowId } from '../../src/workflows/checkout/contract';
import { eventually, notificationRows, orderRow, startConsumerTestBed, type ConsumerTestBed } from '../consumers/support';
import { startSagaHarness, type SagaHarness } from '../support/harness';

/**
 * What an operator following one checkout sees in their tracing backend: one trace, from the
 * request that started it, through the saga and each of its activities, to every event it
 * published and what each consumer did with it. Everything runs in this process against the real
 * stack (the API as src/api/main.ts starts it, a worker, both consumers), tracing into memory.
 */
describe('tracing a checkout', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let untrace: () => void;
  let bed: ConsumerTestBed;
  let h: SagaHarness;
  let api: ApiServer;
  let projectorGroup: string;
  let notifierGroup: string;
  beforeAll(async () => {
    tracing = startTracing({ serviceName: 'checkout-saga-test', exporter });
    untrace = instrumentHttpUnderJest(tracing.httpInstrumentation);
    bed = await startConsumerTestBed('tracing');
    h = await startSagaHarness({ env: bed.env });
    api = await startApiServer(h.config, { port: 0, host: '127.0.0.1' });
    projectorGroup = (await bed.startProjector()).groupId;
    notifierGroup = (await bed.startNotifier()).groupId;
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
    await bed?.close();
    untrace?.();
    await tracing?.shutdown();
  });

  it('is one trace from POST /api/checkouts through the saga, each activity and each publish to what each consumer did', async () => {
    const sku = await h.seedProduct({ priceMinor: 2500 });
    const email = `traced-${randomUUID().slice(0, 8)}@example.com`;
    const res = await fetch(`${api.url}/api/checkouts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer: { email, name: 'Ada' }, items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_visa' }),
    });
    expect(res.status).toBe(202);
    const { checkoutId } = (await res.json()) as { checkoutId: string };
    const { orderId } = await h.result(checkoutId);
    await eventually(async () => expect(await orderRow(bed.database.db, orderId)).toMatchObject({ status: 'CONFIRMED' }));
    await eventually(async () => expect((await notificationRows(bed.database.db, [orderId])).map((n) => n.status)).toEqual(['sent']));

    const history = await h.client.workflow.getHandle(checkoutWorkflowId(checkoutId)).fetchHistory();
    const activities = [...new Set((history.events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []))];
    const published = ['checkout.started', 'stock.reserved', 'payment.captured', 'user.created', 'order.confirmed'].map((type) => `checkout-${checkoutId}:${type}`);
    expect(activities).toEqual(expect.arrayContaining(['reserveStock', 'createPaymentIntent', 'createUser', 'issueSsoToken', 'confirmOrder']));

    // Workflow spans reach the exporter when the workflow's task completes, the consumers' when they are done: wait for the last of each.
    const spans = await eventually(async () => {
      await tracing.forceFlush();
      const all = exporter.getFinishedSpans();
      const missing = [
        ...['RunWorkflow:CheckoutWorkflow', ...activities.map((a) => `RunActivity:${a}`)].filter((name) => !all.some((s) => s.name === name)),
        ...published.filter((id) => !all.some((s) => s.kind === SpanKind.PRODUCER && s.attributes['messaging.message.id'] === id)).map((id) => `publish of ${id}`),
        ...published.flatMap((id) => consumersOf(id).filter((group) => !consumerSpan(all, group, id)).map((group) => `${group}'s span of ${id}`)),
      ];
      expect(missing).toEqual([]);
      return all;
    });
    const parent = (span: ReadableSpan) => spans.find((s) => s.spanContext().spanId === span.parentSpanId);
    const named = (name: string) => spans.filter((s) => s.name === name);

    const [request] = spans.filter((s) => s.kind === SpanKind.SERVER && s.attributes['http.target'] === '/api/checkouts');
    expect(request).toMatchObject({ name: 'POST /api/checkouts', attributes: expect.objectContaining({ 'http.status_code': 202 }) });
    expect(request!.parentSpanId).toBeUndefined();
    const traceId = request!.spanContext().traceId;

    const [start] = named('StartWorkflow:CheckoutWorkflow');
    expect(start?.attributes['temporalWorkflowId']).toBe(checkoutWorkflowId(checkoutId));
    expect(parent(start!)).toBe(request);
    const [run] = named('RunWorkflow:CheckoutWorkflow');
    expect(parent(run!)).toBe(start);

    // Every attempt of every activity, regular or local, hangs off the workflow's scheduling of it.
    const attempts = spans.filter((s) => s.name.startsWith('RunActivity:'));
    expect(attempts.map((a) => [a.name, parent(a)?.name, parent(parent(a)!)?.name])).toEqual(
      attempts.map((a) => [a.name, a.name.replace('RunActivity:', 'StartActivity:'), 'RunWorkflow:CheckoutWorkflow']),
    );

    // Each event published from a publishEvent activity, and each consumer's effect under its publish.
    const publishes = published.map((id) => spans.find((s) => s.kind === SpanKind.PRODUCER && s.attributes['messaging.message.id'] === id)!);
    expect(publishes.map((p) => [p.name, parent(p)?.name])).toEqual(published.map((id) => [`publish ${id.split(':')[1]}`, 'RunActivity:publishEvent']));
    const effects = published.flatMap((id) => consumersOf(id).map((group) => consumerSpan(spans, group, id)!));
    expect(effects.map((e) => [e.name, parent(e)?.attributes['messaging.message.id'], e.attributes['checkout_saga.consumer.outcome']])).toEqual(
      published.flatMap((id) => consumersOf(id).map((group) => [`${group} process ${id.split(':')[1]}`, id, group === notifierGroup ? 'sent' : expect.any(String)])),
    );

    const traced = [request!, start!, run!, ...attempts, ...attempts.map(parent), ...publishes, ...effects];
    expect(traced.filter((s) => s?.spanContext().traceId !== traceId).map((s) => s?.name)).toEqual([]);

    // A trace backend is read by more people than the database: the customer's email is in none of it.
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    expect(inTrace.filter((s) => JSON.stringify([s.name, s.attributes, s.events, s.status]).includes(email)).map((s) => s.name)).toEqual([]);

    // Tracing adds headers and spans, never commands: the traced run replays as it ran (throws on non-determinism).
    await Worker.runReplayHistory({ ...workflowSource(process.env.WORKFLOW_BUNDLE_PATH), sinks: workflowSpanSinks(), dataConverter: temporalDataConverter(h.config) }, history, checkoutWorkflowId(checkoutId));
  });

  function consumersOf(eventId: string): string[] {
    return eventId.endsWith(':order.confirmed') ? [projectorGroup, notifierGroup] : [projectorGroup];
  }
});

function consumerSpan(spans: ReadableSpan[], group: string, eventId: string): ReadableSpan | undefined {
  return spans.find((s) => s.kind === SpanKind.CONSUMER && s.attributes['messaging.consumer.group.name'] === group && s.attributes['messaging.message.id'] === eventId);
}

/**
 * The HTTP instrumentation patches `http` when require-in-the-middle sees it required, as it does in
 * every process started by src/tracing/register-*.ts. jest gives test code a `module` of its own, so
 * the hook never fires here: apply the instrumentation's own patch to `http` (the one express
 * listens with) as the hook would, and take it off afterwards.
 */
function instrumentHttpUnderJest(instrumentation: HttpInstrumentation): () => void {
  const definition = instrumentation.getModuleDefinitions().find((d) => d.name === 'http');
  if (!definition?.patch || !definition.unpatch) throw new Error('the HTTP instrumentation has no patch for http');
  definition.patch(http);
  return () => definition.unpatch?.(http);
}
