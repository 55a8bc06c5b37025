import express, { Express } from 'express';
import type { EventStore } from '../application/eventStore';
import type { Logger } from '../application/logger';
import type { Engine } from '../application/engine';
import type { TokenService } from '../infrastructure/auth';
import type { MiraiMetrics } from '../infrastructure/metrics';
import { authenticate, createAuthRouter, requireRole } from './auth';
import { chain } from './chain';
import { eventRoutes } from './eventRoutes';
import { userRoutes } from './userRoutes';
import {
  cors,
  errorHandler,
  jsonBody,
  notFound,
  requestId,
  requireJsonContentType,
  securityHeaders,
} from './hardening';
import {
  metricsHandler,
  metricsMiddleware,
  mountedAt,
} from './metricsMiddleware';
import { RateLimiter } from './rateLimit';
import { apiTime } from './formatting';
import { queryRoutes } from './queryRoutes';
import type { ReadSide } from './readSide';
import { tradingRoutes } from './tradingRoutes';

/** Everything the HTTP layer is given by the composition root. */
export interface AppDependencies {
  engine: Engine;
  store: EventStore;
  logger: Logger;
  metrics: MiraiMetrics;
  tokens: TokenService;
  usersFile: string;
  rateLimiter: RateLimiter;
  /** Read models, their runtime and the query cache every GET reads. */
  readSide: ReadSide;
  /** Whether reads need a token. Default false (simulation mode). */
  readsRequireToken?: boolean;
  /** Largest JSON body; default `100kb`. */
  bodyLimit?: string;
  /** Origins allowed by CORS; default none. */
  corsOrigins?: string[];
  /** `simulation` (paper trading) is the only mode so far. */
  mode?: string;
}

/** Builds the express app: middleware in order, then routes. */
export const createApp = (deps: AppDependencies): Express => {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const log = (msg: string, fields?: Record<string, unknown>) =>
    deps.logger.warn(msg, fields);

  app.use(
    chain(
      requestId(),
      metricsMiddleware(deps.metrics),
      securityHeaders(),
      cors({ allowedOrigins: deps.corsOrigins ?? [] }),
    ),
  );
  // Health probes answer before limits and tokens: a monitor polling it
  // must not be locked out by its own address's other traffic. A server
  // whose engine thread died can still read but never trade again, so it
  // reports unhealthy: a supervisor should restart it.
  app.get('/api/health', async (_req, res) => {
    try {
      if (!deps.engine.isRunning()) throw new Error('engine not running');
      await deps.store.headPosition();
      res.json({ status: 'healthy', timestamp: apiTime(Date.now()) });
    } catch {
      res
        .status(503)
        .json({ status: 'unhealthy', timestamp: apiTime(Date.now()) });
    }
  });
  // Limit before anything else can answer, so failed logins, bad tokens
  // and oversized bodies count too and carry the rate-limit headers.
  app.use(
    chain(
      deps.rateLimiter.middleware,
      requireJsonContentType(),
      jsonBody({ limit: deps.bodyLimit }),
    ),
  );
  // Logging in needs no token.
  app.use(
    '/auth',
    mountedAt(
      '/auth',
      createAuthRouter({
        tokens: deps.tokens,
        usersFile: deps.usersFile,
        log,
        info: (message, fields) => deps.logger.info(message, fields),
      }),
    ),
  );
  app.use(
    authenticate({
      tokens: deps.tokens,
      readsRequireToken: deps.readsRequireToken ?? false,
    }),
  );

  app.get('/', (_req, res) => {
    res.json({ message: '🤖 Mirai Trading API активен!', status: 'running' });
  });
  app.get('/api/metrics', metricsHandler(deps.metrics));
  app.use(queryRoutes(deps.readSide, deps.mode));
  app.use(
    '/api/trading',
    mountedAt('/api/trading', tradingRoutes(deps.engine, deps.readSide)),
  );
  app.use(
    '/api/events',
    requireRole('auditor'),
    mountedAt('/api/events', eventRoutes(deps.store)),
  );
  app.use(
    '/api/admin/users',
    requireRole('admin'),
    mountedAt('/api/admin/users', userRoutes(deps.usersFile)),
  );

  app.use(notFound());
  app.use(
    errorHandler({ log: (msg, fields) => deps.logger.error(msg, fields) }),
  );
  return app;
};
