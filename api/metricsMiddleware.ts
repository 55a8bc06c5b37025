import { performance } from 'node:perf_hooks';
import type { Request, RequestHandler, Response } from 'express';
import type { Histogram } from 'prom-client';
import type { MiraiMetrics } from '../infrastructure/metrics/metrics';

/** Where a response keeps the mount path of the router it is in. */
const MOUNT = Symbol('mount path');
type TimedResponse = Response & { [MOUNT]?: string };

/** Route label of requests no route matched (404s, early rejections). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Status label of a response the client went away from before it was
 * sent in full: nginx's "client closed request". Node would report 200.
 */
export const CLIENT_CLOSED = '499';

// The route pattern (`/api/orders/:id`), never the raw URL: one series
// per route keeps label cardinality bounded whatever clients send. The
// mount path comes from the code too (see `mountedAt`), not from the
// URL, which may spell it in any case.
const routeOf = (req: Request, res: TimedResponse): string => {
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof pattern !== 'string') return UNMATCHED_ROUTE;
  const mount = res[MOUNT] ?? '';
  // A router's own root is its mount path: `/api/events`, not `/api/events/`.
  return mount !== '' && pattern === '/' ? mount : `${mount}${pattern}`;
};

/**
 * Mounts a router so that request metrics label its routes with
 * `mountPath` in front: `app.use('/api/x', mountedAt('/api/x', router))`.
 * A route that fails keeps the label, so its error is counted under it
 * (express forgets `req.baseUrl` on the way out); a request the router
 * did not answer leaves with no route, as it came.
 */
export const mountedAt = (
  mountPath: string,
  router: RequestHandler,
): RequestHandler => {
  return (req, res, next) => {
    const timed = res as TimedResponse;
    const outerMount = timed[MOUNT];
    const outerRoute = req.route;
    timed[MOUNT] = mountPath;
    router(req, res, (error?: unknown) => {
      if (error === undefined || error === null || error === 'router') {
        timed[MOUNT] = outerMount;
        req.route = outerRoute;
      }
      next(error);
    });
  };
};

/**
 * Observes each request's duration into
 * `http_request_duration_seconds{method,route,status_code}` once the
 * response is done: Node emits `close` on every response, whether it
 * finished or the client went away. Requests answered before a route
 * matched (401 from authentication, 429, 404) are labelled
 * {@link UNMATCHED_ROUTE}; responses the client left before they were
 * sent, {@link CLIENT_CLOSED}. Mount routers with {@link mountedAt}, and
 * this first, so the time includes every other middleware.
 */
export const metricsMiddleware = (metrics: MiraiMetrics): RequestHandler => {
  // One histogram child per label set, found by a flat string key:
  // prom-client's own lookup hashes the label object on every call.
  const series = new Map<string, Histogram.Internal<string>>();
  const seriesOf = (method: string, route: string, status: number | string) => {
    const key = `${method} ${status} ${route}`;
    let child = series.get(key);
    if (!child) {
      child = metrics.httpRequestDuration.labels({
        method,
        route,
        status_code: String(status),
      });
      series.set(key, child);
    }
    return child;
  };

  return (req, res, next) => {
    // performance.now(): a monotonic double, no bigint to allocate.
    const started = performance.now();
    res.once('close', () => {
      const seconds = (performance.now() - started) / 1e3;
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED;
      seriesOf(req.method, routeOf(req, res as TimedResponse), status).observe(
        seconds,
      );
    });
    next();
  };
};

/**
 * Handler of `GET /api/metrics`: the registry in Prometheus text format
 * with its content type (`text/plain; version=0.0.4`).
 */
export const metricsHandler = (metrics: MiraiMetrics): RequestHandler => {
  return async (_req, res, next) => {
    try {
      const text = await metrics.registry.metrics();
      // Set by hand: res.send would splice a charset into the type.
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.end(text);
    } catch (error) {
      next(error);
    }
  };
};
