import type { DataConverter } from '@temporalio/common';
import type { Config } from '../config';
import { EncryptionCodec } from './codec';

/**
 * Where the workflow sandbox and every client load the failure converter from: a bundle built
 * ahead of time (`bundleWorkflowCode`) must be given it too, or failures raised in workflow code
 * would keep their messages in clear.
 */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/**
 * The data converter every Temporal client and worker of the service uses: JSON payloads and
 * failures whose messages travel as payloads, all sealed by the payload codec. A client without it
 * could neither read what the worker wrote nor write what the worker can read, so the API, the CLI,
 * the worker, the bench and the tests all take it from here.
 */
export function temporalDataConverter(cfg: Pick<Config, 'PAYLOAD_CODEC_KEYS' | 'PAYLOAD_CODEC_ACTIVE_KEY'>): DataConverter {
  return { payloadCodecs: [payloadCodec(cfg)], failureConverterPath: FAILURE_CONVERTER_PATH };
}

export function payloadCodec(cfg: Pick<Config, 'PAYLOAD_CODEC_KEYS' | 'PAYLOAD_CODEC_ACTIVE_KEY'>): EncryptionCodec {
  return new EncryptionCodec({ activeKeyId: cfg.PAYLOAD_CODEC_ACTIVE_KEY ?? cfg.PAYLOAD_CODEC_KEYS.keys().next().value!, keys: cfg.PAYLOAD_CODEC_KEYS });
}
