import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../../tools/stack/temporal';
import * as activities from '../fixtures/activities';
import { roundTripWorkflow } from '../fixtures/workflows';
import { requireStackVar, stackEnv } from '../support/stack-env';

const workflowsPath = require.resolve('../fixtures/workflows');

beforeAll(() => {
  // The SDK's default logger prints every worker state change at INFO into the test output.
  Runtime.install({ logger: new DefaultLogger('WARN') });
});

describe('Temporal in the local stack', () => {
  it('runs a workflow end to end: the server hands it to a worker on its task queue, the activity runs, the result comes back', async () => {
    const env = stackEnv();
    const taskQueue = `stack-test-${randomUUID()}`;
    const workerConnection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    try {
      const worker = await Worker.create({ connection: workerConnection, namespace: env.TEMPORAL_NAMESPACE, taskQueue, workflowsPath, activities });
      const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
      const workflowId = `stack-test-${randomUUID()}`;

      const result = await worker.runUntil(client.workflow.execute(roundTripWorkflow, { taskQueue, workflowId, args: ['hello'] }));

      expect(result).toBe('HELLO!');
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const activityTypes = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
      expect(activityTypes).toEqual(['shout']);
    } finally {
      await connection.close();
      await workerConnection.close();
    }
  });

  it('has the custom search attributes ops filter checkouts by, with their types', async () => {
    const env = stackEnv();
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: env.TEMPORAL_NAMESPACE });
      const typeNames: Record<string, number> = { Keyword: 2, Int: 3 }; // temporal.api.enums.v1.IndexedValueType
      for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
        expect({ name, type: customAttributes?.[name] }).toEqual({ name, type: typeNames[type] });
      }
    } finally {
      await connection.close();
    }
  });

  it('serves the Web UI', async () => {
    const res = await fetch(requireStackVar('TEMPORAL_UI_URL'));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<html');
  });

  it('runs TestWorkflowEnvironment.createLocal on the cached CLI binary (existing-path), no download', async () => {
    const testEnv = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: requireStackVar('TEMPORAL_CLI_PATH') }, ip: '127.0.0.1' },
    });
    try {
      const taskQueue = `stack-test-${randomUUID()}`;
      const worker = await Worker.create({ connection: testEnv.nativeConnection, taskQueue, workflowsPath, activities });
      const result = await worker.runUntil(testEnv.client.workflow.execute(roundTripWorkflow, { taskQueue, workflowId: `stack-test-${randomUUID()}`, args: ['local'] }));
      expect(result).toBe('LOCAL!');
    } finally {
      await testEnv.teardown();
    }
  });
});
