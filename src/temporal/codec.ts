import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/**
 * Customer data (emails, names, addresses of payment pages) never reaches Temporal in clear: every
 * payload is encrypted with AES-256-GCM before it leaves the process, by the worker, the API, the
 * CLI and the bench alike. Whoever reads Temporal (its database, its Web UI without the codec
 * server, a backup) sees `binary/encrypted` and the id of the key it was sealed with.
 *
 * A payload is the whole original Payload (metadata and data), serialized and sealed:
 * `data` = 12-byte IV || ciphertext || 16-byte tag, `metadata.encoding` = `binary/encrypted`,
 * `metadata.encryption-key-id` = the key's id. Keys rotate: new payloads use the active key, and a
 * payload sealed with an older one opens as long as that key is still configured. A payload that
 * is not encrypted (histories from before the codec) passes through, so it still replays.
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID_FIELD = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface CodecKeys {
  /** Id of the key new payloads are sealed with. */
  activeKeyId: string;
  /** Every key that may still have to open a payload, by id; each 32 bytes. */
  keys: ReadonlyMap<string, Buffer>;
}

export class PayloadKeyMissingError extends Error {
  constructor(readonly keyId: string) {
    super(`a payload was sealed with key "${keyId}", which is not configured: add it back to PAYLOAD_CODEC_KEYS to read it`);
    this.name = 'PayloadKeyMissingError';
  }
}

export class EncryptionCodec implements PayloadCodec {
  private readonly activeKey: Buffer;

  constructor(private readonly config: CodecKeys) {
    const key = config.keys.get(config.activeKeyId);
    if (!key) throw new Error(`the active payload key "${config.activeKeyId}" is not among the configured keys`);
    for (const [id, k] of config.keys) if (k.length !== 32) throw new Error(`payload key "${id}" must be 32 bytes (AES-256), not ${k.length}`);
    this.activeKey = key;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.activeKey, iv);
      const sealed = Buffer.concat([cipher.update(temporal.api.common.v1.Payload.encode(payload).finish()), cipher.final()]);
      return {
        metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_FIELD]: Buffer.from(this.config.activeKeyId) },
        data: Buffer.concat([iv, sealed, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCRYPTED_ENCODING) return payload;
      const keyId = Buffer.from(payload.metadata?.[KEY_ID_FIELD] ?? []).toString();
      const key = this.config.keys.get(keyId);
      if (!key) throw new PayloadKeyMissingError(keyId);
      const data = Buffer.from(payload.data ?? []);
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

/** `PAYLOAD_CODEC_KEYS` as the configuration holds it: `id:base64,id:base64`, the active one first unless PAYLOAD_CODEC_ACTIVE_KEY says. */
export function parseCodecKeys(value: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const entry of value.split(',').map((e) => e.trim()).filter(Boolean)) {
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new Error(`"${entry.slice(0, 12)}..." is not id:base64key`);
    const id = entry.slice(0, colon);
    if (!/^[\w.-]{1,64}$/.test(id)) throw new Error(`key id "${id}" may only hold letters, digits, . _ - (at most 64)`);
    if (keys.has(id)) throw new Error(`key id "${id}" is listed twice`);
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    if (key.length !== 32) throw new Error(`key "${id}" must be 32 bytes base64-encoded (AES-256), not ${key.length}`);
    keys.set(id, key);
  }
  if (keys.size === 0) throw new Error('must hold at least one key');
  return keys;
}
