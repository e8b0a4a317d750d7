import { timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import express, { type Express, type RequestHandler } from 'express';
import { z } from 'zod';
import { ConfigError, exposureOf, type Config } from '../config';
import { PayloadKeyMissingError } from './codec';
import { payloadCodec } from './data-converter';

/**
 * The codec server: Temporal's remote codec protocol (`POST <endpoint>/encode` and `/decode`, body
 * `{ payloads: [{ metadata: { k: base64 }, data: base64 }] }`), so the Web UI and the `temporal` CLI
 * can show operators the payloads the service sealed. It holds the keys that open customer data:
 * it answers only callers with the bearer token (CODEC_SERVER_TOKEN; the configuration requires one
 * off loopback) and only browsers from the Web UI's origin.
 */
export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Unset: no token asked (loopback only, enforced by the configuration). */
  token?: string;
  /** Browser origins allowed to call it (the Web UI's). */
  allowedOrigins: string[];
  /** Bodies beyond this are refused: a history page is a few hundred kB. */
  bodyLimit?: string;
}

/**
 * The codec server's options from the configuration. It refuses to run without a token wherever
 * strangers may reach it: it opens every customer's data for whoever calls it.
 */
export function codecServerOptionsFromConfig(cfg: Config): CodecServerOptions {
  const exposure = exposureOf(cfg);
  if (exposure && !cfg.CODEC_SERVER_TOKEN) {
    throw new ConfigError([`CODEC_SERVER_TOKEN: is required here (${exposure}): the codec server decrypts customer data`]);
  }
  return {
    codec: payloadCodec(cfg),
    ...(cfg.CODEC_SERVER_TOKEN ? { token: cfg.CODEC_SERVER_TOKEN } : {}),
    allowedOrigins: cfg.CODEC_SERVER_CORS_ORIGINS ?? [new URL(cfg.TEMPORAL_UI_URL).origin],
  };
}

const wirePayloads = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() })),
});

export function createCodecServer(opts: CodecServerOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(cors(opts.allowedOrigins));
  app.use(express.json({ limit: opts.bodyLimit ?? '4mb' }));
  if (opts.token) app.use(bearerToken(opts.token));
  for (const op of ['encode', 'decode'] as const) {
    app.post(`/codec/${op}`, async (req, res) => {
      const parsed = wirePayloads.safeParse(req.body);
      if (!parsed.success) {
        res.status(400).type('application/problem+json').json({ title: 'Not a payloads document', detail: 'Send { "payloads": [{ "metadata": {...}, "data": "<base64>" }] }.' });
        return;
      }
      let out: Payload[];
      try {
        out = await opts.codec[op](parsed.data.payloads.map(fromWire));
      } catch (err) {
        // A key retired too early: the operator must learn which one to add back, not read a stack trace.
        if (!(err instanceof PayloadKeyMissingError)) throw err;
        res.status(422).type('application/problem+json').json({ title: 'Payload key not configured', detail: err.message, keyId: err.keyId });
        return;
      }
      res.set('Cache-Control', 'no-store').json({ payloads: out.map(toWire) });
    });
  }
  return app;
}

function fromWire(p: { metadata?: Record<string, string> | undefined; data?: string | undefined }): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toWire(p: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  };
}

function cors(allowedOrigins: string[]): RequestHandler {
  return (req, res, next) => {
    const origin = req.get('origin');
    if (origin && allowedOrigins.includes(origin)) {
      res.set({
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Credentials': 'true',
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, Authorization, X-Namespace',
        Vary: 'Origin',
      });
    }
    if (req.method === 'OPTIONS') {
      res.status(origin && allowedOrigins.includes(origin) ? 204 : 403).end();
      return;
    }
    next();
  };
}

function bearerToken(token: string): RequestHandler {
  const expected = Buffer.from(token);
  return (req, res, next) => {
    const presented = Buffer.from(/^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1] ?? '');
    if (presented.length === expected.length && timingSafeEqual(presented, expected)) return next();
    res.status(401).set('WWW-Authenticate', 'Bearer').type('application/problem+json').json({ title: 'Authentication required', detail: 'Send the codec server token as a Bearer token.' });
  };
}
