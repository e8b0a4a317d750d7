import { createHmac } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';

/**
 * The API's access token: a short-lived HS256 JWT. Its key is derived from SSO_SECRET for this one
 * purpose, so it never equals the key behind the login tokens and one cannot be forged from the other.
 */

export const ACCESS_TOKEN_ISSUER = 'urn:checkout-saga:api';
export const ACCESS_TOKEN_AUDIENCE = 'urn:checkout-saga:customer';

export interface AccessTokenClaims {
  userId: string;
  email: string;
}

export interface IssuedAccessToken {
  accessToken: string;
  expiresAt: Date;
}

export interface AccessTokens {
  issue(claims: AccessTokenClaims): Promise<IssuedAccessToken>;
  /** The claims of a valid token, or undefined for anything forged, expired or malformed. */
  verify(token: string): Promise<AccessTokenClaims | undefined>;
  readonly ttlSeconds: number;
}

export function createAccessTokens(options: { ssoSecret: string; ttlSeconds: number }): AccessTokens {
  const key = createHmac('sha256', options.ssoSecret).update('checkout-saga access token v1').digest();
  return {
    ttlSeconds: options.ttlSeconds,
    async issue(claims) {
      const issuedAt = Math.floor(Date.now() / 1000);
      const expiresAt = new Date((issuedAt + options.ttlSeconds) * 1000);
      const accessToken = await new SignJWT({ email: claims.email })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(claims.userId)
        .setIssuer(ACCESS_TOKEN_ISSUER)
        .setAudience(ACCESS_TOKEN_AUDIENCE)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + options.ttlSeconds)
        .sign(key);
      return { accessToken, expiresAt };
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          issuer: ACCESS_TOKEN_ISSUER,
          audience: ACCESS_TOKEN_AUDIENCE,
          requiredClaims: ['sub', 'exp'],
        });
        if (typeof payload.sub !== 'string' || typeof payload.email !== 'string') return undefined;
        return { userId: payload.sub, email: payload.email };
      } catch (err) {
        if (err instanceof joseErrors.JOSEError) return undefined;
        throw err;
      }
    },
  };
}
