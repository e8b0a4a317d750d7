import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec, ENCRYPTED_ENCODING, parseCodecKeys, PayloadKeyMissingError } from '../../src/temporal/codec';
import { codecServerOptionsFromConfig, createCodecServer } from '../../src/temporal/codec-server';
import { customerEmailHash } from '../../src/temporal/customer-email-hash';
import { payloadCodec } from '../../src/temporal/data-converter';
import { parseConfig } from '../../src/config';

const key = () => randomBytes(32);
const payloadOf = (value: unknown) => defaultPayloadConverter.toPayload(value);
const valueOf = (payload: Parameters<typeof defaultPayloadConverter.fromPayload>[0]) => defaultPayloadConverter.fromPayload(payload);

describe('the payload codec', () => {
  const customer = { email: 'ada@example.com', name: 'Ada Lovelace' };

  it('seals a payload so nothing of it reads in clear, and opens it again', async () => {
    const codec = new EncryptionCodec({ activeKeyId: 'k1', keys: new Map([['k1', key()]]) });
    const [sealed] = await codec.encode([payloadOf(customer)]);

    expect(Buffer.from(sealed!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(sealed!.metadata!['encryption-key-id']!).toString()).toBe('k1');
    expect(Buffer.from(sealed!.data!).toString('latin1')).not.toContain('ada@example.com');
    const [opened] = await codec.decode([sealed!]);
    expect(valueOf(opened!)).toEqual(customer);
  });

  it('after a rotation seals with the new key and still opens what the old one sealed', async () => {
    const old = key();
    const before = new EncryptionCodec({ activeKeyId: 'old', keys: new Map([['old', old]]) });
    const [sealedBefore] = await before.encode([payloadOf(customer)]);
    const after = new EncryptionCodec({ activeKeyId: 'new', keys: new Map([['new', key()], ['old', old]]) });

    const [sealedAfter] = await after.encode([payloadOf(customer)]);
    expect(Buffer.from(sealedAfter!.metadata!['encryption-key-id']!).toString()).toBe('new');
    expect((await after.decode([sealedBefore!, sealedAfter!])).map(valueOf)).toEqual([customer, customer]);
  });

  it('refuses to open a payload whose key was dropped, naming the key', async () => {
    const [sealed] = await new EncryptionCodec({ activeKeyId: 'gone', keys: new Map([['gone', key()]]) }).encode([payloadOf(customer)]);
    await expect(new EncryptionCodec({ activeKeyId: 'k2', keys: new Map([['k2', key()]]) }).decode([sealed!])).rejects.toThrow(PayloadKeyMissingError);
  });

  it('refuses a payload that was tampered with', async () => {
    const codec = new EncryptionCodec({ activeKeyId: 'k1', keys: new Map([['k1', key()]]) });
    const [sealed] = await codec.encode([payloadOf(customer)]);
    const data = Buffer.from(sealed!.data!);
    data[20] = data[20]! ^ 1;
    await expect(codec.decode([{ ...sealed!, data }])).rejects.toThrow();
  });

  it('passes through payloads that were never sealed (histories from before the codec)', async () => {
    const codec = new EncryptionCodec({ activeKeyId: 'k1', keys: new Map([['k1', key()]]) });
    const plain = payloadOf(customer);
    expect(await codec.decode([plain])).toEqual([plain]);
  });
});

describe('the payload keys in the configuration', () => {
  const base = { APP_URL: 'http://127.0.0.1:3000' };
  const k = (b: Buffer) => b.toString('base64');

  it('are id:base64 pairs of 32-byte keys, each problem named', () => {
    expect(parseCodecKeys(`a:${k(key())},b:${k(key())}`).size).toBe(2);
    expect(() => parseConfig({ ...base, PAYLOAD_CODEC_KEYS: `a:${k(randomBytes(16))}` })).toThrow(/PAYLOAD_CODEC_KEYS: key "a" must be 32 bytes/);
    expect(() => parseConfig({ ...base, PAYLOAD_CODEC_KEYS: 'no-colon' })).toThrow(/PAYLOAD_CODEC_KEYS: .* is not id:base64key/);
    expect(() => parseConfig({ ...base, PAYLOAD_CODEC_KEYS: `a:${k(key())}`, PAYLOAD_CODEC_ACTIVE_KEY: 'b' })).toThrow(/PAYLOAD_CODEC_ACTIVE_KEY: names no key/);
    expect(() => parseConfig({ ...base, PAYLOAD_CODEC_KEYS: `a:${k(key())},a:${k(key())}` })).toThrow(/PAYLOAD_CODEC_KEYS: key id "a" is listed twice/);
    expect(() => parseConfig({ ...base, PAYLOAD_CODEC_KEYS: ' , ' })).toThrow(/PAYLOAD_CODEC_KEYS: must hold at least one key/);
  });

  it('seal with the first key unless PAYLOAD_CODEC_ACTIVE_KEY names another', async () => {
    const keys = `new:${k(key())},old:${k(key())}`;
    const sealedWith = async (env: Record<string, string>) => {
      const [sealed] = await payloadCodec(parseConfig({ ...base, ...env })).encode([payloadOf('x')]);
      return Buffer.from(sealed!.metadata!['encryption-key-id']!).toString();
    };
    expect(await sealedWith({ PAYLOAD_CODEC_KEYS: keys })).toBe('new');
    expect(await sealedWith({ PAYLOAD_CODEC_KEYS: keys, PAYLOAD_CODEC_ACTIVE_KEY: 'old' })).toBe('old');
  });

  const deployment = { APP_URL: 'https://shop.example.com', SSO_SECRET: 'x'.repeat(40), STRIPE_WEBHOOK_SECRET: 'whsec_prod' };

  it('refuse the repository development keys wherever strangers can reach the service', () => {
    expect(() => parseConfig(deployment)).toThrow(/PAYLOAD_CODEC_KEYS: is the repository's development value[\s\S]*CUSTOMER_EMAIL_HASH_KEY: is the repository's development value/);
    expect(() => parseConfig({ ...deployment, PAYLOAD_CODEC_KEYS: `prod:${k(key())}`, CUSTOMER_EMAIL_HASH_KEY: 'h'.repeat(40) })).not.toThrow();
    expect(() => parseConfig({ ...base, CUSTOMER_EMAIL_HASH_KEY: 'too short' })).toThrow(/CUSTOMER_EMAIL_HASH_KEY: must be at least 32 characters/);
  });

  it('let the codec server start off loopback only with a token; the other processes do not need one', () => {
    const cfg = parseConfig({ ...deployment, PAYLOAD_CODEC_KEYS: `prod:${k(key())}`, CUSTOMER_EMAIL_HASH_KEY: 'h'.repeat(40) });
    expect(() => codecServerOptionsFromConfig(cfg)).toThrow(/CODEC_SERVER_TOKEN: is required here \(APP_URL shop.example.com is not loopback\)/);
    expect(codecServerOptionsFromConfig({ ...cfg, CODEC_SERVER_TOKEN: 't'.repeat(32) })).toMatchObject({ token: 't'.repeat(32) });
    expect(codecServerOptionsFromConfig(parseConfig(base))).not.toHaveProperty('token');
  });
});

describe('the CustomerEmail hash', () => {
  const cfg = { CUSTOMER_EMAIL_HASH_KEY: 'k'.repeat(40) };

  it('stands for the normalised address under a key, and reveals nothing of it', () => {
    const hash = customerEmailHash(cfg, 'ana@example.com');
    expect(hash).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(customerEmailHash(cfg, '  Ana@Example.COM ')).toBe(hash);
    expect(customerEmailHash(cfg, 'bob@example.com')).not.toBe(hash);
    expect(customerEmailHash({ CUSTOMER_EMAIL_HASH_KEY: 'other'.repeat(8) }, 'ana@example.com')).not.toBe(hash);
  });
});

describe('the codec server', () => {
  const codec = new EncryptionCodec({ activeKeyId: 'k1', keys: new Map([['k1', key()]]) });
  const uiOrigin = 'http://127.0.0.1:8233';
  const token = 'operator-token-0123456789abcdef';
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const server = createCodecServer({ codec, token, allowedOrigins: [uiOrigin] }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/codec`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(() => close());

  const wire = (p: { metadata?: Record<string, Uint8Array | null | undefined> | null; data?: Uint8Array | null }) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  });

  it('decodes for an operator with the token what the service sealed, as the Web UI asks', async () => {
    const sealed = await codec.encode([payloadOf({ email: 'ada@example.com' })]);
    const res = await fetch(`${url}/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, origin: uiOrigin, 'x-namespace': 'default' },
      body: JSON.stringify({ payloads: sealed.map(wire) }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    const body = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(JSON.parse(Buffer.from(body.payloads[0]!.data, 'base64').toString())).toEqual({ email: 'ada@example.com' });
  });

  it('refuses a caller without the token, and a browser from another origin', async () => {
    const sealed = await codec.encode([payloadOf({ email: 'ada@example.com' })]);
    const body = JSON.stringify({ payloads: sealed.map(wire) });
    const anonymous = await fetch(`${url}/decode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(anonymous.status).toBe(401);
    const preflight = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const uiPreflight = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { origin: uiOrigin, 'access-control-request-method': 'POST' } });
    expect(uiPreflight.status).toBe(204);
  });
});
