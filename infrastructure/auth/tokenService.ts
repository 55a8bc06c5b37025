import { createSecretKey, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { MiraiError } from '../../domain/errors';
import { type AuthenticatedUser, isRole } from './roles';

/** Default lifetime of an access token: 15 minutes, in seconds. */
export const DEFAULT_ACCESS_TTL_SECONDS = 15 * 60;

/** Default lifetime of a refresh token: 30 days, in seconds. */
export const DEFAULT_REFRESH_TTL_SECONDS = 30 * 24 * 60 * 60;

/** What a token is for; a token only works for its own kind. */
export type TokenType = 'access' | 'refresh';

/** Options of {@link createTokenService}. */
export interface TokenServiceOptions {
  /** HMAC key; see `loadSigningSecret`. */
  readonly secret: Buffer | string;
  /** Access token lifetime in seconds; default 900 (15 min). */
  readonly accessTtlSeconds?: number;
  /** Refresh token lifetime in seconds; default 2 592 000 (30 days). */
  readonly refreshTtlSeconds?: number;
  /** Current time in Unix seconds; default the system clock. */
  readonly now?: () => number;
  /** `iss` claim written and required; default `mirai`. */
  readonly issuer?: string;
}

/** A freshly signed token and when it stops working. */
export interface SignedToken {
  readonly token: string;
  /** Seconds from now until the token expires. */
  readonly expiresIn: number;
}

/** Signs and checks Mirai's tokens. */
export interface TokenService {
  /** Signs a token of `type` for `user`. */
  issue(user: AuthenticatedUser, type: TokenType): SignedToken;
  /**
   * The user a token of `type` names.
   * @throws MiraiError `UNAUTHORIZED` for an expired, malformed, wrongly
   *   signed or unsigned token, or one of the other type.
   */
  verify(token: string, type: TokenType): AuthenticatedUser;
}

const unauthorized = (message: string) =>
  new MiraiError('UNAUTHORIZED', message);

/**
 * A token service using HS256 only. Tokens carry `sub` (the username),
 * `role`, `typ` (`access` or `refresh`), `iat`, `exp`, `iss` and a random
 * `jti`. Verification pins the algorithm, so `alg: none` and tokens signed
 * with another algorithm fail.
 *
 * Limit: tokens cannot be revoked one by one; an access token works until
 * it expires. Changing the signing secret revokes all of them.
 */
export const createTokenService = ({
  secret,
  accessTtlSeconds = DEFAULT_ACCESS_TTL_SECONDS,
  refreshTtlSeconds = DEFAULT_REFRESH_TTL_SECONDS,
  now = () => Math.floor(Date.now() / 1000),
  issuer = 'mirai',
}: TokenServiceOptions): TokenService => {
  // Given a bare string or Buffer, jsonwebtoken first tries to read it as
  // a public key and fails, on every call; a KeyObject skips that (~1 ms).
  const key = createSecretKey(
    typeof secret === 'string' ? Buffer.from(secret) : secret,
  );
  // A bot sends the same token with every request: remember the tokens
  // already checked (signature, issuer, claims) until they expire. The
  // expiry is still compared with the clock on every use.
  const checked = new Map<
    string,
    { user: AuthenticatedUser; typ: string; exp: number }
  >();
  const MAX_CHECKED = 10_000;
  return {
    issue(user, type) {
      const expiresIn =
        type === 'access' ? accessTtlSeconds : refreshTtlSeconds;
      const issuedAt = Math.floor(now());

      // iat and exp are set by hand so the injected clock decides them.
      const claims = {
        sub: user.username,
        role: user.role,
        typ: type,
        iss: issuer,
        jti: randomUUID(),
        iat: issuedAt,
        exp: issuedAt + expiresIn,
      };
      const token = jwt.sign(claims, key, { algorithm: 'HS256' });
      return { token, expiresIn };
    },

    verify(token, type) {
      const known = checked.get(token);
      if (known && known.typ === type && Math.floor(now()) < known.exp) {
        return known.user;
      }
      let claims: jwt.JwtPayload | string;
      try {
        claims = jwt.verify(token, key, {
          algorithms: ['HS256'],
          issuer,
          clockTimestamp: Math.floor(now()),
        });
      } catch (error) {
        if (error instanceof jwt.TokenExpiredError) {
          throw unauthorized('Token expired');
        }
        throw unauthorized('Invalid token');
      }

      // A token without an expiry or of the other type must not pass.
      if (
        typeof claims !== 'object' ||
        claims.typ !== type ||
        typeof claims.sub !== 'string' ||
        typeof claims.exp !== 'number' ||
        !isRole(claims.role)
      ) {
        throw unauthorized('Invalid token');
      }
      const user = { username: claims.sub, role: claims.role };
      if (checked.size >= MAX_CHECKED) checked.clear();
      checked.set(token, { user, typ: claims.typ, exp: claims.exp });
      return user;
    },
  };
};
