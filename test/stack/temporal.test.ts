import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { pickFreePort } from '../../tools/stack';
import { SEARCH_ATTRIBUTES, startTemporal } from '../../tools/stack/temporal';
import * as activities from '../fixtures/activities';
import { answerOnceWorkflow, roundTripWorkflow, shoutUpdate } from '../fixtures/workflows';
import { requireStackVar, stackEnv } from '../support/stack-env';

const workflowsPath = require.resolve('../fixtures/workflows');

beforeAll(() => {
  // The SDK's default logger prints every worker state change at INFO into the test output.
  Runtime.install({ logger: new DefaultLogger('WARN') });
});

/** A worker on a task queue of its own and a client, both on the stack's server, closed afterwards. */
async function withWorkerAndClient(use: (ctx: { worker: Worker; client: Client; taskQueue: string }) => Promise<void>): Promise<void> {
  const env = stackEnv();
  const taskQueue = `stack-test-${randomUUID()}`;
  const workerConnection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  try {
    const worker = await Worker.create({ connection: workerConnection, namespace: env.TEMPORAL_NAMESPACE, taskQueue, workflowsPath, activities });
    await use({ worker, client: new Client({ connection, namespace: env.TEMPORAL_NAMESPACE }), taskQueue });
  } finally {
    await connection.close();
    await workerConnection.close();
  }
}

describe('Temporal in the local stack', () => {
  it('runs a workflow end to end: the server hands it to a worker on its task queue, the activity runs, the result comes back', async () => {
    await withWorkerAndClient(async ({ worker, client, taskQueue }) => {
      const workflowId = `stack-test-${randomUUID()}`;

      const result = await worker.runUntil(client.workflow.execute(roundTripWorkflow, { taskQueue, workflowId, args: ['hello'] }));

      expect(result).toBe('HELLO!');
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const activityTypes = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
      expect(activityTypes).toEqual(['shout']);
    });
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

  it("shows the namespace's custom search attributes in the Web UI, read from the server", async () => {
    const res = await fetch(`${requireStackVar('TEMPORAL_UI_URL')}/api/v1/namespaces/${stackEnv().TEMPORAL_NAMESPACE}/search-attributes`);
    expect(res.status).toBe(200);
    const { customAttributes } = (await res.json()) as { customAttributes?: Record<string, string> };
    expect(customAttributes).toEqual({ CheckoutStatus: 'INDEXED_VALUE_TYPE_KEYWORD', CheckoutStep: 'INDEXED_VALUE_TYPE_KEYWORD', CustomerEmail: 'INDEXED_VALUE_TYPE_KEYWORD', OrderTotal: 'INDEXED_VALUE_TYPE_INT' });
  });

  it('runs a Temporal server past CVE-2025-14986 (servers 1.24.0 to 1.29.1 with Update-with-Start enabled)', async () => {
    const connection = await Connection.connect({ address: stackEnv().TEMPORAL_ADDRESS });
    try {
      const { serverVersion } = await connection.workflowService.getSystemInfo({});
      const [major = 0, minor = 0, patch = 0] = (serverVersion ?? '').split('.').map(Number);
      expect({ serverVersion, fixed: major * 1e6 + minor * 1e3 + patch >= 1_029_002 }).toEqual({ serverVersion, fixed: true });
    } finally {
      await connection.close();
    }
  });

  it('accepts Update-with-Start: one call starts the workflow and returns its answer to the update', async () => {
    await withWorkerAndClient(async ({ worker, client, taskQueue }) => {
      const start = new WithStartWorkflowOperation(answerOnceWorkflow, { taskQueue, workflowId: `stack-test-${randomUUID()}`, workflowIdConflictPolicy: 'FAIL' });

      const answer = await worker.runUntil(async () => {
        const early = await client.workflow.executeUpdateWithStart(shoutUpdate, { args: ['early'], startWorkflowOperation: start });
        await (await start.workflowHandle()).result();
        return early;
      });

      expect(answer).toBe('EARLY!');
      expect(await (await start.workflowHandle()).result()).toBe('EARLY!');
    });
  });

  it("under npm start, points the Web UI at the codec server, so operators read a sealed history's payloads", async () => {
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'temporal-codec-ui-'));
    const [port, uiPort, httpPort, metricsPort] = [await pickFreePort(), await pickFreePort(), await pickFreePort(), await pickFreePort()];
    const codecEndpoint = 'http://127.0.0.1:8235/codec';
    const temporal = await startTemporal({ stateDir, port, uiPort, httpPort, metricsPort, uiCodecEndpoint: codecEndpoint });
    try {
      // What the Web UI's browser code reads to know where to decode payloads.
      const settings = (await (await fetch(`${temporal.uiUrl}/api/v1/settings`)).json()) as { Codec?: { Endpoint?: string } };
      expect(settings.Codec?.Endpoint).toBe(codecEndpoint);
    } finally {
      await temporal.stop();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
