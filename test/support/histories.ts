import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';

export const HISTORIES_DIR = path.resolve(__dirname, '../histories');

/**
 * The workflow shape being recorded: bump it with every `patched()` change, so the histories of each
 * released shape stay side by side (v1: every step a regular activity; v2: short steps local).
 */
export const CURRENT_SHAPE = 'v2';

/**
 * With RECORD_HISTORIES=1, saves a finished run's history under test/histories/ so the replay test
 * keeps every released workflow shape replayable. Re-record only for a new shape, never to make a
 * replay failure go away: that failure is a running checkout the deploy would break.
 * The temporal CLI writes the same JSON format ops would export from a production cluster.
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const cli = process.env.TEMPORAL_CLI_PATH;
  if (!cli) throw new Error('TEMPORAL_CLI_PATH is not set: record histories through `npm test`');
  const { stdout } = await promisify(execFile)(
    cli,
    ['workflow', 'show', '--workflow-id', handle.workflowId, '--address', process.env.TEMPORAL_ADDRESS!, '--output', 'json'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  await mkdir(HISTORIES_DIR, { recursive: true });
  await writeFile(path.join(HISTORIES_DIR, `${CURRENT_SHAPE}-${name}.json`), stdout);
}
