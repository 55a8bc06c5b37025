import Ajv, { type JSONSchemaType } from 'ajv';
import { Router, type Response } from 'express';
import { MiraiError } from '../../domain/errors';
import { sendError } from '../errorResponse';
import { fieldProblems } from '../schemaErrors';
import type { AuthenticatedUser } from '../../infrastructure/auth/roles';
import type { TokenService } from '../../infrastructure/auth/tokenService';
import { findUser, verifyUser } from '../../infrastructure/auth/userStore';

interface LoginBody {
  username: string;
  password: string;
}

interface RefreshBody {
  refresh_token: string;
}

const ajv = new Ajv({ allErrors: true });

// The password bound keeps one login from feeding scrypt megabytes.
const validateLogin = ajv.compile<LoginBody>({
  type: 'object',
  properties: {
    username: { type: 'string', minLength: 1, maxLength: 64 },
    password: { type: 'string', minLength: 1, maxLength: 1024 },
  },
  required: ['username', 'password'],
  additionalProperties: false,
} satisfies JSONSchemaType<LoginBody>);

const validateRefresh = ajv.compile<RefreshBody>({
  type: 'object',
  properties: {
    refresh_token: { type: 'string', minLength: 1, maxLength: 4096 },
  },
  required: ['refresh_token'],
  additionalProperties: false,
} satisfies JSONSchemaType<RefreshBody>);

const invalidBody = (expected: string, errors: typeof validateLogin.errors) =>
  new MiraiError('INVALID_REQUEST', `Body must be ${expected}`, {
    errors: fieldProblems(errors),
  });

const badCredentials = () =>
  new MiraiError('UNAUTHORIZED', 'Invalid username or password');

// Token responses must not be cached by browsers or proxies (RFC 6749).
const sendTokens = (res: Response, body: Record<string, unknown>) => {
  res.set('Cache-Control', 'no-store').set('Pragma', 'no-cache');
  res.json(body);
};

/** Options of {@link createAuthRouter}. */
export interface AuthRouterOptions {
  readonly tokens: TokenService;
  /** The users file, read on every login so new users count at once. */
  readonly usersFile: string;
  /** Told of each failed login (a warning), never of a password. */
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Told of each login and refresh that succeeds; default `log`. */
  readonly info?: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * Routes to mount at `/auth`, behind a JSON body parser:
 *
 * - `POST /auth/token` `{username, password}` →
 *   `{access_token, refresh_token, token_type: "bearer", expires_in, role}`
 * - `POST /auth/refresh` `{refresh_token}` →
 *   `{access_token, token_type: "bearer", expires_in, role}`
 *
 * `expires_in` is in seconds. A body of the wrong shape gets 400
 * INVALID_REQUEST; wrong credentials get 401 UNAUTHORIZED with one message
 * whether or not the user exists. A refresh takes the user's role from
 * the users file at that moment, and fails when the user was removed.
 */
export const createAuthRouter = ({
  tokens,
  usersFile,
  log,
  info = log,
}: AuthRouterOptions): Router => {
  const router = Router();

  const accessFor = (user: AuthenticatedUser) => {
    const access = tokens.issue(user, 'access');
    return {
      access_token: access.token,
      token_type: 'bearer',
      expires_in: access.expiresIn,
      role: user.role,
    };
  };

  router.post('/token', async (req, res, next) => {
    try {
      if (!validateLogin(req.body)) {
        return sendError(
          res,
          invalidBody('{"username", "password"}', validateLogin.errors),
        );
      }
      const { username, password } = req.body;
      const user = await verifyUser(usersFile, username, password);
      if (!user) {
        log?.('login failed', { request_id: res.locals.requestId });
        return sendError(res, badCredentials());
      }

      info?.('login', { username: user.username, role: user.role });
      const refresh = tokens.issue(user, 'refresh');
      const { access_token, token_type, expires_in, role } = accessFor(user);
      sendTokens(res, {
        access_token,
        refresh_token: refresh.token,
        token_type,
        expires_in,
        role,
      });
    } catch (error) {
      next(error);
    }
  });

  router.post('/refresh', async (req, res, next) => {
    try {
      if (!validateRefresh(req.body)) {
        return sendError(
          res,
          invalidBody('{"refresh_token"}', validateRefresh.errors),
        );
      }
      const claimed = tokens.verify(req.body.refresh_token, 'refresh');
      const user = await findUser(usersFile, claimed.username);
      if (!user) throw new MiraiError('UNAUTHORIZED', 'Invalid token');

      info?.('token refreshed', { username: user.username, role: user.role });
      sendTokens(res, accessFor(user));
    } catch (error) {
      if (error instanceof MiraiError) return sendError(res, error);
      next(error);
    }
  });

  return router;
};
