import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import { WrongExpectedVersionError } from '../../../application/eventStore';
import {
  authenticate,
  createAuthRouter,
  requireRole,
  userFromRequest,
} from '../../../api/auth';
import {
  cors,
  errorHandler,
  jsonBody,
  notFound,
  requestId,
  requireJsonContentType,
  securityHeaders,
} from '../../../api/hardening';
import {
  metricsHandler,
  metricsMiddleware,
  mountedAt,
} from '../../../api/metricsMiddleware';
import { createRateLimiter, type RateLimitTier } from '../../../api/rateLimit';
import { createExpressServer } from '../../../api/expressServer';
import {
  addUser,
  createTokenService,
  ROLES,
  type Role,
  type TokenService,
} from '../../../infrastructure/auth';
import {
  createMetrics,
  type MiraiMetrics,
} from '../../../infrastructure/metrics';
import { tempDir } from '../../support/tempDirs';

/** The password of every fixture user: `<role>-password`. */
export const passwordOf = (role: Role) => `${role}-password`;

export const SECRET = 'test-secret-that-is-at-least-32-bytes-long';

let usersFile: Promise<string> | undefined;

/** A users file with one user per role, named after the role. */
export const fixtureUsersFile = (): Promise<string> =>
  (usersFile ??= (async () => {
    const dir = tempDir('users');
    const file = join(dir, 'users.json');
    for (const role of ROLES) await addUser(file, role, passwordOf(role), role);
    return file;
  })());

export interface TestServerOptions {
  readonly readsRequireToken?: boolean;
  readonly trustProxy?: boolean | number;
  readonly limits?: Partial<Record<RateLimitTier, number>>;
  readonly allowedOrigins?: string[];
  readonly bodyLimit?: string;
}

export interface TestServer {
  readonly url: string;
  readonly tokens: TokenService;
  readonly metrics: MiraiMetrics;
  readonly clock: { ms: number };
  /** Lines the error handler logged. */
  readonly logged: Record<string, unknown>[];
  /** A signed access token for `role` (username = role). */
  tokenFor(role: Role): string;
  close(): Promise<void>;
}

/**
 * A real express server on 127.0.0.1, port 0, assembled from the
 * security modules in the order the main app uses, with one dummy route
 * per kind: open read, trade, audit read, admin write, and a crash.
 */
export const startTestServer = async (
  options: TestServerOptions = {},
): Promise<TestServer> => {
  const file = await fixtureUsersFile();
  const clock = { ms: Date.UTC(2024, 0, 15, 14, 0, 0) };
  const tokens = createTokenService({
    secret: SECRET,
    now: () => Math.floor(clock.ms / 1000),
  });
  const metrics = createMetrics();
  const limiter = createRateLimiter({
    now: () => clock.ms,
    trustProxy: options.trustProxy,
    limits: options.limits,
    identify: (req) => userFromRequest(tokens, req)?.username,
  });
  const logged: Record<string, unknown>[] = [];

  const app = express();
  app.disable('x-powered-by');
  app.use(requestId());
  app.use(metricsMiddleware(metrics));
  app.use(securityHeaders());
  app.use(cors({ allowedOrigins: options.allowedOrigins }));
  app.use(limiter.middleware);
  app.use(requireJsonContentType());
  app.use(jsonBody({ limit: options.bodyLimit }));
  app.use(
    '/auth',
    mountedAt('/auth', createAuthRouter({ tokens, usersFile: file })),
  );
  app.use(
    authenticate({ tokens, readsRequireToken: options.readsRequireToken }),
  );

  app.get('/api/metrics', metricsHandler(metrics));
  app.get('/api/status', (_req, res) => {
    res.json({ ok: true, user: res.locals.user ?? null });
  });
  app.get('/api/items/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  app.post('/api/trading/order', requireRole('trader'), (req, res) => {
    const { symbol, side } = req.body as { symbol: string; side: string };
    metrics.recordOrder({ symbol, side, status: 'FILLED' });
    res.status(201).json({ status: 'filled' });
  });
  app.get('/api/audit/events', requireRole('auditor'), (_req, res) => {
    res.json({ events: [] });
  });
  app.post('/api/admin/cache/invalidate', requireRole('admin'), (_q, res) => {
    res.json({ invalidated: true });
  });
  app.get('/api/conflict', () => {
    throw new WrongExpectedVersionError('account-main', 4n, 5n);
  });
  app.get('/api/boom', () => {
    throw new Error('db password is hunter2 at /srv/secret.ts');
  });
  app.use(notFound());
  app.use(
    errorHandler({
      log: (message, fields) => logged.push({ message, ...fields }),
    }),
  );

  // As the real server creates it (see server.ts).
  const server = createExpressServer({}, app).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    tokens,
    metrics,
    clock,
    logged,
    tokenFor: (role) => tokens.issue({ username: role, role }, 'access').token,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

/** `fetch` with a bearer token and a JSON body when given. */
export const call = (
  url: string,
  {
    method = 'GET',
    token,
    body,
    headers = {},
  }: {
    method?: string;
    token?: string;
    body?: unknown;
    headers?: Record<string, string>;
  } = {},
) =>
  fetch(url, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** Asserts nothing; returns the documented error body's parts. */
export const errorOf = async (response: Response) =>
  (
    (await response.json()) as {
      error: {
        code: string;
        message: string;
        details: Record<string, unknown>;
        timestamp: string;
      };
    }
  ).error;
