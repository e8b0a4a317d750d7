import type { DataConverter } from '@temporalio/common';
import type { Config } from '../config';
import { EncryptionCodec } from './codec';

/**
 * The data converter every Temporal client and worker of the service uses: JSON payloads, sealed by
 * the payload codec. A client without it could neither read what the worker wrote nor write what the
 * worker can read, so the API, the CLI, the worker, the bench and the tests all take it from here.
 */
export function temporalDataConverter(cfg: Pick<Config, 'PAYLOAD_CODEC_KEYS' | 'PAYLOAD_CODEC_ACTIVE_KEY'>): DataConverter {
  return { payloadCodecs: [payloadCodec(cfg)] };
}

export function payloadCodec(cfg: Pick<Config, 'PAYLOAD_CODEC_KEYS' | 'PAYLOAD_CODEC_ACTIVE_KEY'>): EncryptionCodec {
  return new EncryptionCodec({ activeKeyId: cfg.PAYLOAD_CODEC_ACTIVE_KEY ?? cfg.PAYLOAD_CODEC_KEYS.keys().next().value!, keys: cfg.PAYLOAD_CODEC_KEYS });
}
