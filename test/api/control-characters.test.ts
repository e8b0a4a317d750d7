import { connect } from 'node:net';
import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema';
import { startTestApi, type CheckoutBody, type StatusView, type TestApi } from './support';

/**
 * Characters no honest client sends in these fields, each of which has broken something somewhere:
 * NUL (PostgreSQL refuses it in text), other C0 controls and DEL (terminal escapes in logs and
 * CLIs), C1 controls (the same, in 8-bit terminals), unpaired UTF-16 surrogates (not encodable as
 * UTF-8), and bidi overrides and isolates (text that reads differently from what it is, in
 * emails and operator screens). Every string field answers 400 naming the field, before anything
 * is stored or started.
 */
const CONTROL_CHARACTERS: [name: string, char: string][] = [
  ['NUL', '\u0000'],
  ['BEL', '\u0007'],
  ['tab', '\t'],
  ['line feed', '\n'],
  ['ESC', '\u001b'],
  ['DEL', '\u007f'],
  ['C1 NEL', '\u0085'],
  ['C1 CSI', '\u009b'],
  ['lone high surrogate', '\ud800'],
  ['lone low surrogate', '\udfff'],
  ['bidi override RLO', '\u202e'],
  ['bidi isolate RLI', '\u2067'],
];

interface Problem {
  type: string;
  errors?: { field: string; message: string }[];
}

describe('control characters in any string a client sends', () => {
  let api: TestApi;
  let sku: string;
  beforeAll(async () => {
    api = await startTestApi();
    sku = await api.h.seedProduct({ stock: 50 });
  });
  afterAll(async () => {
    await api?.h.assertNoChargeWithoutOrderOrRefund();
    await api?.close();
  });

  const validBody = (): CheckoutBody => ({
    customer: { email: 'control@example.com', name: 'Ada Lovelace' },
    items: [{ sku, quantity: 1 }],
    paymentMethodId: 'pm_card_visa',
  });

  /** Answers of every control character, as `{ name: [status, problem type, fields] }`, for one readable diff. */
  async function answersFor(send: (char: string) => Promise<{ status: number; body: unknown }>) {
    const answers: Record<string, [number, string | undefined, string[] | undefined]> = {};
    for (const [name, char] of CONTROL_CHARACTERS) {
      const { status, body } = await send(char);
      const problem = body as Problem | undefined;
      answers[name] = [status, problem?.type, problem?.errors?.map((e) => e.field)];
    }
    return answers;
  }
  const everyOne = (field: string) =>
    Object.fromEntries(CONTROL_CHARACTERS.map(([name]) => [name, [400, 'urn:checkout-saga:problem:validation-failed', [field]]]));

  describe('POST /api/checkouts', () => {
    const fields: [field: string, withChar: (body: CheckoutBody, char: string) => CheckoutBody][] = [
      ['customer.email', (b, c) => ({ ...b, customer: { ...b.customer, email: `con${c}trol@example.com` } })],
      ['customer.name', (b, c) => ({ ...b, customer: { ...b.customer, name: `Ada${c}Lovelace` } })],
      ['items[0].sku', (b, c) => ({ ...b, items: [{ sku: `${sku.slice(0, 4)}${c}${sku.slice(4)}`, quantity: 1 }] })],
      ['paymentMethodId', (b, c) => ({ ...b, paymentMethodId: `pm_card${c}_visa` })],
    ];

    it.each(fields)('%s: 400 naming the field, and no checkout is created', async (field, withChar) => {
      const before = await api.h.db.select().from(schema.checkouts).where(eq(schema.checkouts.customerEmail, 'control@example.com'));
      const answers = await answersFor((char) => api.request('POST', '/api/checkouts', { json: withChar(validBody(), char) }));

      expect(answers).toEqual(everyOne(field));
      const after = await api.h.db.select().from(schema.checkouts).where(eq(schema.checkouts.customerEmail, 'control@example.com'));
      expect(after).toHaveLength(before.length);
    });

    it('a name is trimmed of surrounding spaces and accepted with letters of any script', async () => {
      const res = await api.request('POST', '/api/checkouts', { json: { ...validBody(), customer: { email: 'scripts@example.com', name: '  Zoë Ødegård 李小龍 عائشة  ' } } });
      expect(res.status).toBe(202);
      const [row] = await api.h.db.select().from(schema.checkouts).where(eq(schema.checkouts.id, String(res.body.checkoutId)));
      expect(row!.customerName).toBe('Zoë Ødegård 李小龍 عائشة');
      await api.waitForStatus(String(res.body.checkoutId), (v) => v.status === 'COMPLETED');
    });

    it('Idempotency-Key: 400 naming the header for every control character the HTTP parser lets through; the rest never reach the app', async () => {
      const body = JSON.stringify(validBody());
      const answers: Record<string, [number, string[] | undefined]> = {};
      for (const [name, char] of CONTROL_CHARACTERS) {
        const { status, body: problem } = await rawPost('/api/checkouts', { 'Idempotency-Key': `key-${char}-1` }, body);
        answers[name] = [status, (problem as Problem | undefined)?.errors?.map((e) => e.field)];
      }
      for (const [name, [status, fields]] of Object.entries(answers)) {
        expect({ name, status }).toEqual({ name, status: 400 });
        // NUL, line feed and DEL end the request in Node's HTTP parser: a plain 400 that never reaches the app.
        if (fields !== undefined) expect({ name, fields }).toEqual({ name, fields: ['Idempotency-Key'] });
      }
      expect(answers['C1 CSI']).toEqual([400, ['Idempotency-Key']]);
    });

    it('X-Request-Id: a control character makes the API use an id of its own, as for any id that is not sane', async () => {
      const { status, headers } = await rawPost('/api/checkouts', { 'X-Request-Id': 'trace\u009bme' }, JSON.stringify({ ...validBody(), paymentMethodId: 'pm bad' }));
      expect(status).toBe(400);
      expect(headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    /** Over a plain socket, so header values can carry what fetch() refuses to send (as UTF-8). */
    async function rawPost(path: string, headers: Record<string, string>, body: string) {
      const url = new URL(api.url);
      const head = [
        `POST ${path} HTTP/1.1`,
        `Host: ${url.host}`,
        'Content-Type: application/json',
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ].join('\r\n');
      const socket = connect(Number(url.port), url.hostname);
      socket.write(Buffer.from(`${head}\r\n\r\n${body}`));
      const chunks: Buffer[] = [];
      for await (const chunk of socket) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString();
      const [head2 = '', rest = ''] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head2)?.[1]);
      const responseHeaders = Object.fromEntries(head2.split('\r\n').slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      let parsed: unknown;
      try {
        parsed = JSON.parse(responseHeaders['transfer-encoding'] === 'chunked' ? rest.split('\r\n')[1] ?? '' : rest);
      } catch {
        parsed = undefined;
      }
      return { status, headers: responseHeaders, body: parsed };
    }
  });

  describe('the status query', () => {
    it.each(['waitForChangeMs', 'sinceVersion'])('%s: 400 naming the parameter, wherever the character sits', async (param) => {
      const id = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';
      const encoded = (char: string) => (/[\ud800-\udfff]/.test(char) ? '%ED%A0%80' : encodeURIComponent(char));
      const before = await answersFor((char) => api.request('GET', `/api/checkouts/${id}?${param}=${encoded(char)}100`));
      const after = await answersFor((char) => api.request('GET', `/api/checkouts/${id}?${param}=100${encoded(char)}`));

      expect(before).toEqual(everyOne(param));
      expect(after).toEqual(everyOne(param));
    });
  });

  describe('POST /api/checkouts/:id/cancel', () => {
    it('reason: 400 naming the field, and the checkout is not cancelled', async () => {
      const started = await api.startCheckout(sku, { paymentMethodId: 'pm_card_authenticationRequired' });
      const checkoutId = String(started.body.checkoutId);
      await api.waitForStatus(checkoutId, (v) => v.status === 'REQUIRES_ACTION');

      const answers = await answersFor((char) => api.request('POST', `/api/checkouts/${checkoutId}/cancel`, { json: { reason: `changed${char}my mind` } }));

      expect(answers).toEqual(everyOne('reason'));
      const view = await api.request<StatusView>('GET', `/api/checkouts/${checkoutId}`);
      expect(view.body.status).toBe('REQUIRES_ACTION');
      expect((await api.request('POST', `/api/checkouts/${checkoutId}/cancel`, { json: { reason: 'changed my mind' } })).status).toBe(202);
    });
  });

  describe('sign-in', () => {
    it('POST /api/sso/redeem: a token with a control character is 400 naming token', async () => {
      const answers = await answersFor((char) => api.request('POST', '/api/sso/redeem', { json: { token: `abc${char}def` } }));
      expect(answers).toEqual(everyOne('token'));
    });

    it('GET /sso/callback: a token with a control character is 400 naming token', async () => {
      const encoded = (char: string) => (/[\ud800-\udfff]/.test(char) ? '%ED%A0%80' : encodeURIComponent(char));
      const answers = await answersFor((char) => api.request('GET', `/sso/callback?token=abc${encoded(char)}def`));
      expect(answers).toEqual(everyOne('token'));
    });
  });
});
