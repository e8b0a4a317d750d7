import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = path.resolve(__dirname, '../histories');

/**
 * The workflow shape being recorded: bump it with every `patched()` change, so the histories of each
 * released shape stay side by side (v1: every step a regular activity; v2: short steps local; v3: forward steps regular again so a cancel never strands their work, payments followed and verified with Stripe;
 * v4: each status change written to PostgreSQL's change feed, deferred capture; its histories are sealed by the payload codec).
 */
export const CURRENT_SHAPE = 'v4';

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
 * A workflow history as text that a search can trust. Payloads are bytes (JSON inside, sealed by
 * the payload codec): a plain JSON.stringify shows them as base64 and hides what they carry. Here
 * the history is turned into its protobuf JSON form (bytes as base64) and every payload in it
 * (inputs, results, signals, markers, search attributes, failure details) is opened by `codec`
 * (the service's, to read what it wrote) and decoded by the SDK's default payload converter.
 */
export async function searchableHistory(history: unknown, codec: PayloadCodec): Promise<string> {
  return JSON.stringify(await decodePayloads(JSON.parse(JSON.stringify(history)), codec));
}

interface EncodedPayload {
  metadata: Record<string, string>;
  data?: string;
}

async function decodePayloads(value: unknown, codec: PayloadCodec): Promise<unknown> {
  if (Array.isArray(value)) return Promise.all(value.map((item) => decodePayloads(item, codec)));
  if (isEncodedPayload(value)) return { payload: decodePayload(await openPayload(value, codec)) };
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(await Promise.all(Object.entries(value).map(async ([key, field]) => [key, await decodePayloads(field, codec)])));
  }
  return value;
}

async function openPayload(encoded: EncodedPayload, codec: PayloadCodec): Promise<EncodedPayload> {
  const [opened] = await codec.decode([
    {
      metadata: Object.fromEntries(Object.entries(encoded.metadata).map(([key, value]) => [key, Buffer.from(value, 'base64')])),
      ...(encoded.data !== undefined ? { data: Buffer.from(encoded.data, 'base64') } : {}),
    },
  ]);
  return {
    metadata: Object.fromEntries(Object.entries(opened!.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value ?? []).toString('base64')])),
    ...(opened!.data ? { data: Buffer.from(opened!.data).toString('base64') } : {}),
  };
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
