import { eq, sql } from 'drizzle-orm';
import { SignJWT } from 'jose';
import * as schema from '../../db/schema';
import { startTestApi, type StatusView, type TestApi } from './support';

interface Login {
  accessToken: string;
  tokenType: string;
  expiresAt: string;
  user: { id: string; email: string; name: string | null };
}

describe('SSO auto-login after a checkout', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api?.close();
  });

  /** A completed checkout and the raw login token from its status. */
  async function completedCheckout(name = 'Ada Buyer'): Promise<{ checkoutId: string; email: string; token: string; redirectUrl: string }> {
    const sku = await api.h.seedProduct();
    const email = `sso-${Math.random().toString(36).slice(2, 10)}@example.com`;
    const started = await api.startCheckout(sku, { customer: { email, name } });
    const checkoutId = String(started.body.checkoutId);
    const view = await api.waitForStatus(checkoutId, (v) => v.status === 'COMPLETED' && v.sso !== undefined);
    const redirectUrl = view.sso!.redirectUrl;
    return { checkoutId, email, token: new URL(redirectUrl).searchParams.get('token')!, redirectUrl };
  }

  const redeem = (token: unknown) => api.request<Login>('POST', '/api/sso/redeem', { json: { token } });

  describe('POST /api/sso/redeem', () => {
    it('trades the token for an access token and the user, exactly once', async () => {
      const { token, email } = await completedCheckout('Grace Hopper');
      const first = await redeem(token);
      const second = await redeem(token);

      expect(first.status).toBe(200);
      expect(first.headers.get('cache-control')).toBe('no-store');
      expect(first.body).toEqual({
        accessToken: expect.stringMatching(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/),
        tokenType: 'Bearer',
        expiresAt: expect.any(String),
        user: { id: expect.any(String), email, name: 'Grace Hopper' },
      });
      expect(second.status).toBe(401);
      expect(second.body).toMatchObject({ type: 'urn:checkout-saga:problem:login-link-invalid', status: 401, detail: 'This login link has expired or was already used.' });
    });

    it('lets only one of two simultaneous redeems win', async () => {
      const { token } = await completedCheckout();
      const answers = await Promise.all([redeem(token), redeem(token), redeem(token)]);
      expect(answers.map((a) => a.status).sort()).toEqual([200, 401, 401]);
    });

    it('refuses an expired token with the same 401', async () => {
      const { token, checkoutId } = await completedCheckout();
      await api.h.db.update(schema.ssoTokens).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(schema.ssoTokens.checkoutId, checkoutId));
      const res = await redeem(token);

      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ type: 'urn:checkout-saga:problem:login-link-invalid' });
    });

    it('refuses a revoked token with the same 401', async () => {
      const { token, checkoutId } = await completedCheckout();
      await api.h.db.update(schema.ssoTokens).set({ revokedAt: new Date() }).where(eq(schema.ssoTokens.checkoutId, checkoutId));
      expect((await redeem(token)).status).toBe(401);
    });

    it('refuses an unknown token with the same 401', async () => {
      const res = await redeem('a-token-nobody-issued');
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ detail: 'This login link has expired or was already used.' });
    });

    it('answers 400 for a missing or mistyped token', async () => {
      const missing = await api.request('POST', '/api/sso/redeem', { json: {} });
      const wrongType = await redeem(12345);

      expect(missing.status).toBe(400);
      expect(missing.body).toMatchObject({ errors: [{ field: 'token', message: 'is required' }] });
      expect(wrongType.body).toMatchObject({ errors: [{ field: 'token', message: 'must be a string' }] });
    });

    it('stops offering the login link in the status once it was used', async () => {
      const { token, checkoutId } = await completedCheckout();
      await redeem(token);
      const after = await api.request<StatusView>('GET', `/api/checkouts/${checkoutId}`);

      expect(after.body.status).toBe('COMPLETED');
      expect(after.body.sso).toBeUndefined();
    });
  });

  describe('the access token', () => {
    it('is accepted by GET /api/me as a Bearer token', async () => {
      const { token, email } = await completedCheckout('Alan Turing');
      const login = await redeem(token);
      const me = await api.request('GET', '/api/me', { headers: { authorization: `Bearer ${login.body.accessToken}` } });

      expect(me.status).toBe(200);
      expect(me.body).toEqual({ user: { id: login.body.user.id, email, name: 'Alan Turing' } });
    });

    it('is refused when missing, forged or signed with another key', async () => {
      const { token } = await completedCheckout();
      const login = await redeem(token);
      const [header, payload] = login.body.accessToken.split('.');
      const forged = await new SignJWT({ email: 'attacker@example.com' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(login.body.user.id)
        .setIssuer('urn:checkout-saga:api')
        .setAudience('urn:checkout-saga:customer')
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode('x'.repeat(32)));

      const none = await api.request('GET', '/api/me');
      const tampered = await api.request('GET', '/api/me', { headers: { authorization: `Bearer ${header}.${payload}.AAAA` } });
      const otherKey = await api.request('GET', '/api/me', { headers: { authorization: `Bearer ${forged}` } });
      const unsigned = await api.request('GET', '/api/me', { headers: { authorization: `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.` } });

      for (const res of [none, tampered, otherKey, unsigned]) {
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(res.body).toMatchObject({ type: 'urn:checkout-saga:problem:authentication-required' });
      }
    });
  });

  describe('GET /sso/callback', () => {
    it('sets an HttpOnly, SameSite=Lax session cookie and redirects to /app, which then knows the buyer', async () => {
      const { redirectUrl, email } = await completedCheckout('Katherine Johnson');
      const res = await fetch(redirectUrl, { redirect: 'manual' });
      const cookie = res.headers.get('set-cookie') ?? '';

      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/app');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(cookie).toMatch(/^checkout_saga_session=eyJ/);
      expect(cookie).toMatch(/HttpOnly/i);
      expect(cookie).toMatch(/SameSite=Lax/i);
      expect(cookie).toMatch(/Path=\//);

      const me = await api.request('GET', '/api/me', { headers: { cookie: cookie.split(';')[0]! } });
      expect(me.body).toMatchObject({ user: { email, name: 'Katherine Johnson' } });
    });

    it('shows a friendly "link expired" page with 401 for a used link', async () => {
      const { redirectUrl } = await completedCheckout();
      await fetch(redirectUrl, { redirect: 'manual' });
      const reused = await fetch(redirectUrl, { redirect: 'manual' });
      const body = await reused.text();

      expect(reused.status).toBe(401);
      expect(reused.headers.get('content-type')).toMatch(/^text\/html/);
      expect(reused.headers.get('set-cookie')).toBeNull();
      expect(body).toContain('This sign-in link has expired');
    });

    it('shows the same page for a link without a token', async () => {
      const res = await api.request('GET', '/sso/callback');
      expect(res.status).toBe(401);
      expect(res.text).toContain('This sign-in link has expired');
    });
  });

  it('POST /api/sso/logout clears the session cookie', async () => {
    const res = await api.request('POST', '/api/sso/logout');
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie')).toMatch(/^checkout_saga_session=;.*Expires=Thu, 01 Jan 1970/);
  });
});
