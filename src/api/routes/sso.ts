import path from 'node:path';
import { Router } from 'express';
import { z } from 'zod';
import { InvalidLoginTokenError } from '../../application/sign-in/errors';
import { loginTokenSchema } from '../../application/checkouts/schemas';
import { parseInput } from '../../application/validation';
import { redeemSsoToken } from '../../application/sign-in/redeem';
import { SESSION_COOKIE, sessionCookieOptions } from '../auth';
import type { ApiContext } from './context';
import { PAGE_DIR } from './page';

export const redeemSchema = z.object({ token: loginTokenSchema }, { error: 'the body must be a JSON object' });

export function ssoApiRoutes({ deps, accessTokens, limits }: ApiContext): Router {
  const router = Router();
  router.post('/sso/redeem', limits.logins, async (req, res) => {
    const { token } = parseInput(redeemSchema, req.body);
    const login = await redeemSsoToken({ db: deps.db, accessTokens, logger: req.log }, token);
    res.set('Cache-Control', 'no-store').json({
      accessToken: login.accessToken,
      tokenType: 'Bearer',
      expiresAt: login.expiresAt.toISOString(),
      user: login.user,
    });
  });

  /** Ends the browser session of the app page; a bearer token simply expires. */
  router.post('/sso/logout', (_req, res) => {
    const { maxAge: _unused, ...options } = sessionCookieOptions(deps.config.APP_URL, 0);
    res.clearCookie(SESSION_COOKIE, options).status(204).end();
  });
  return router;
}

/** The browser side of the same redeem: a cookie and a redirect, or a page that says what happened. */
export function ssoBrowserRoutes({ deps, accessTokens, limits }: ApiContext): Router {
  const router = Router();
  router.get('/sso/callback', limits.logins, async (req, res) => {
    res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' });
    // No token at all is a link that lost it: the "expired" page. One that cannot be ours is a 400 naming it.
    const token = req.query.token === undefined || req.query.token === '' ? undefined : parseInput(loginTokenSchema, req.query.token, 'token');
    try {
      if (!token) throw new InvalidLoginTokenError();
      const login = await redeemSsoToken({ db: deps.db, accessTokens, logger: req.log }, token);
      res.cookie(SESSION_COOKIE, login.accessToken, sessionCookieOptions(deps.config.APP_URL, accessTokens.ttlSeconds));
      // 303: the browser follows with a GET, and the token-bearing URL is not kept in history as the page.
      res.redirect(303, '/app');
    } catch (err) {
      if (!(err instanceof InvalidLoginTokenError)) throw err;
      res.status(401).sendFile(path.join(PAGE_DIR, 'link-expired.html'));
    }
  });
  return router;
}
