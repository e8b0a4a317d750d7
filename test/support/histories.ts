import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = path.resolve(__dirname, '../histories');

/**
 * The workflow shape being recorded: bump it with every `patched()` change, so the histories of each
 * released shape stay side by side (v1: every step a regular activity; v2: short steps local; v3: forward steps regular again so a cancel never strands their work, payments followed and verified with Stripe).
 */
export const CURRENT_SHAPE = 'v3';

/**
 * With RECORD_HISTORIES=1, saves a finished run's history under test/histories/ so the replay test
 * keeps every released workflow shape replayable. Re-record only for a new shape, never to make a
 * replay failure go away: that failure is a running checkout the deploy would break.
 * historyToJSON writes the protobuf JSON that `temporal workflow show --output json` writes and ops
 * would export from a production cluster; historyFromJSON reads either.
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  await mkdir(HISTORIES_DIR, { recursive: true });
  await writeFile(path.join(HISTORIES_DIR, `${CURRENT_SHAPE}-${name}.json`), `${historyToJSON(history)}\n`);
}

/**
 * A workflow history as text that a search can trust. Payloads are bytes (JSON inside): a plain
 * JSON.stringify shows them as base64 and hides what they carry. Here the history is turned into
 * its protobuf JSON form (bytes as base64) and every payload in it (inputs, results, signals,
 * markers, search attributes, failure details) is decoded by the SDK's default payload converter.
 */
export function searchableHistory(history: unknown): string {
  return JSON.stringify(decodePayloads(JSON.parse(JSON.stringify(history))));
}

interface EncodedPayload {
  metadata: Record<string, string>;
  data?: string;
}

function decodePayloads(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodePayloads);
  if (isEncodedPayload(value)) return { payload: decodePayload(value) };
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, decodePayloads(field)]));
  return value;
}

function isEncodedPayload(value: unknown): value is EncodedPayload {
  const { metadata, data } = (value ?? {}) as Partial<EncodedPayload>;
  return typeof metadata === 'object' && metadata !== null && typeof metadata.encoding === 'string' && (data === undefined || typeof data === 'string');
}

function decodePayload(encoded: EncodedPayload): unknown {
  const payload: Payload = {
    metadata: Object.fromEntries(Object.entries(encoded.metadata).map(([key, value]) => [key, Buffer.from(value, 'base64')])),
    ...(encoded.data !== undefined ? { data: Buffer.from(encoded.data, 'base64') } : {}),
  };
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    // An encoding the default converter does not know: its bytes are still worth searching.
    return Buffer.from(encoded.data ?? '', 'base64').toString('utf8');
  }
}
