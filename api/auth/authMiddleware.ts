import type { IncomingMessage } from 'node:http';
import type { RequestHandler, Response } from 'express';
import { MiraiError } from '../../domain/errors';
import { sendError } from '../errorResponse';
import {
  type AuthenticatedUser,
  hasRole,
  type Role,
} from '../../infrastructure/auth/roles';
import type { TokenService } from '../../infrastructure/auth/tokenService';

/** Methods that only read; every other method writes. */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const BEARER = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i;

const unauthorized = (message: string) =>
  new MiraiError('UNAUTHORIZED', message);

/** Where a request may carry its token. */
export interface TokenSources {
  /**
   * Also the `token` query parameter: for a WebSocket handshake, handled
   * by the server's `upgrade` listener, since browsers cannot set headers
   * on one. Never for requests express serves, whatever headers they
   * carry: a token in a URL can end up in proxy logs. Default false.
   */
  readonly query?: boolean;
}

/**
 * The token a request presents, or undefined when it presents none: from
 * `Authorization: Bearer <token>`, or, with `sources.query`, from the
 * `token` query parameter.
 *
 * @throws MiraiError `UNAUTHORIZED` when an Authorization header is there
 *   but is not a Bearer token, or the URL cannot be parsed for a query.
 */
export const tokenFromRequest = (
  req: IncomingMessage,
  { query = false }: TokenSources = {},
): string | undefined => {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = BEARER.exec(header);
    if (!match) throw unauthorized('Authorization must be "Bearer <token>"');
    return match[1];
  }
  if (!query) return undefined;

  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    throw unauthorized('The request URL cannot be read for a token');
  }
  return url.searchParams.get('token') || undefined;
};

/**
 * The user an access token names. Use it where there is no express
 * pipeline, e.g. a WebSocket upgrade handler.
 *
 * @throws MiraiError `UNAUTHORIZED` for a missing, expired, malformed,
 *   wrongly signed or `alg: none` token, and for a refresh token.
 */
export const authenticateToken = (
  tokens: TokenService,
  token: string | undefined,
): AuthenticatedUser => {
  if (!token) throw unauthorized('Authentication required');
  return tokens.verify(token, 'access');
};

/** What checking a request's token gave, kept on the request. */
interface TokenCheck {
  tokens: TokenService;
  query: boolean;
  user?: AuthenticatedUser;
  error?: unknown;
}
const TOKEN_CHECK = Symbol('token check');
type CheckedRequest = IncomingMessage & { [TOKEN_CHECK]?: TokenCheck };

/**
 * The user a request's token names; undefined when it has no token. The
 * answer is kept on the request: the rate limiter asks before
 * `authenticate` does, and both get the same answer for one check.
 * `sources`: see {@link TokenSources}; express's requests use the default.
 * @throws MiraiError `UNAUTHORIZED` when it has a token that fails.
 */
export const authenticateRequest = (
  tokens: TokenService,
  req: IncomingMessage,
  sources: TokenSources = {},
): AuthenticatedUser | undefined => {
  const checked = req as CheckedRequest;
  const query = sources.query ?? false;
  let check = checked[TOKEN_CHECK];
  if (check?.tokens !== tokens || check.query !== query) {
    try {
      const token = tokenFromRequest(req, { query });
      check = {
        tokens,
        query,
        user:
          token === undefined ? undefined : authenticateToken(tokens, token),
      };
    } catch (error) {
      check = { tokens, query, error };
    }
    checked[TOKEN_CHECK] = check;
  }
  if (check.error !== undefined) throw check.error;
  return check.user;
};

/**
 * Like {@link authenticateRequest} but never throws: the user of a valid
 * token, else undefined. Meant for keying rate limits before the request
 * is judged.
 */
export const userFromRequest = (
  tokens: TokenService,
  req: IncomingMessage,
): AuthenticatedUser | undefined => {
  try {
    return authenticateRequest(tokens, req);
  } catch {
    return undefined;
  }
};

/** The user {@link authenticate} found for this response, if any. */
export const currentUser = (res: Response): AuthenticatedUser | undefined =>
  res.locals.user as AuthenticatedUser | undefined;

const reject = (res: Response, error: MiraiError, tokenPresented: boolean) => {
  if (error.code === 'UNAUTHORIZED') {
    const challenge = tokenPresented
      ? 'Bearer realm="mirai", error="invalid_token"'
      : 'Bearer realm="mirai"';
    res.set('WWW-Authenticate', challenge);
  }
  sendError(res, error);
};

/** Options of {@link authenticate}. */
export interface AuthenticateOptions {
  readonly tokens: TokenService;
  /**
   * Whether GET, HEAD and OPTIONS need a token. Default false: reads are
   * open, as in simulation mode. Writes always need one.
   */
  readonly readsRequireToken?: boolean;
  /**
   * The least role any write needs, default `trader`: a viewer only
   * reads. Routes that need more add {@link requireRole}.
   */
  readonly writeRole?: Role;
}

/**
 * Checks the request's token and sets `res.locals.user` to
 * `{username, role}`. A presented token that fails (expired, malformed,
 * wrongly signed, `alg: none`, a refresh token) is always answered
 * 401 UNAUTHORIZED, even on an open read. A missing token is answered 401
 * on writes, and on reads when `readsRequireToken`. A write by a role
 * below `writeRole` is answered 403 FORBIDDEN.
 */
export const authenticate = ({
  tokens,
  readsRequireToken = false,
  writeRole = 'trader',
}: AuthenticateOptions): RequestHandler => {
  return (req, res, next) => {
    let user: AuthenticatedUser | undefined;
    try {
      user = authenticateRequest(tokens, req);
    } catch (error) {
      if (!(error instanceof MiraiError)) return next(error);
      return reject(res, error, true);
    }

    const isRead = READ_METHODS.has(req.method);
    if (!user) {
      if (isRead && !readsRequireToken) return next();
      return reject(res, unauthorized('Authentication required'), false);
    }
    if (!isRead && !hasRole(user.role, writeRole)) {
      return reject(res, forbidden(user.role, writeRole), true);
    }

    res.locals.user = user;
    next();
  };
};

const forbidden = (role: Role, required: Role) =>
  new MiraiError('FORBIDDEN', `Role '${role}' may not do this`, {
    required_role: required,
  });

/**
 * Lets the request through only when {@link authenticate} found a user
 * with `minRole` or a higher role: no user → 401 UNAUTHORIZED, too low a
 * role → 403 FORBIDDEN. Put it on every route that needs more than an
 * open read.
 */
export const requireRole = (minRole: Role): RequestHandler => {
  return (_req, res, next) => {
    const user = currentUser(res);
    if (!user) {
      return reject(res, unauthorized('Authentication required'), false);
    }
    if (!hasRole(user.role, minRole)) {
      return reject(res, forbidden(user.role, minRole), true);
    }
    next();
  };
};
