import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { parseConfig } from '../../src/config';
import { temporalDataConverter } from '../../src/temporal/data-converter';
import { workflowSource } from '../../src/workers/checkout-worker';
import { CURRENT_SHAPE, HISTORIES_DIR } from '../support/histories';

/**
 * Every history recorded from a released shape of the workflows must replay against today's code:
 * a non-determinism error here is a running checkout that a deploy would break (use `patched()`).
 */
describe('recorded checkout histories', () => {
  it('replay against the current workflow code without non-determinism', async () => {
    const files = (await readdir(HISTORIES_DIR)).filter((f) => f.endsWith('.json')).sort();
    expect(files.filter((f) => f.startsWith('v1-')).length).toBeGreaterThanOrEqual(6);
    expect(files.filter((f) => f.startsWith(`${CURRENT_SHAPE}-`)).length).toBeGreaterThanOrEqual(6);

    const histories = await Promise.all(
      files.map(async (file) => {
        const json = JSON.parse(await readFile(path.join(HISTORIES_DIR, file), 'utf8')) as unknown;
        return { workflowId: path.basename(file, '.json'), history: historyFromJSON(json) };
      }),
    );
    const failures: string[] = [];
    // Histories recorded before the payload codec hold plain JSON, which the codec passes through;
    // later ones are sealed with the repository's development key, the test stack's default.
    const replayOptions = { ...workflowSource(process.env.WORKFLOW_BUNDLE_PATH), dataConverter: temporalDataConverter(parseConfig({})) };
    for await (const result of Worker.runReplayHistories(replayOptions, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }

    expect(failures).toEqual([]);
  });
});
