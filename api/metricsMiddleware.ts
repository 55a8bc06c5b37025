import type { Request, RequestHandler } from 'express';
import type { MiraiMetrics } from '../infrastructure/metrics/metrics';

/** Route label of requests no route matched (404s, early rejections). */
export const UNMATCHED_ROUTE = 'unmatched';

// The route pattern (`/api/orders/:id`), never the raw URL: one series
// per route keeps label cardinality bounded whatever clients send.
const routeOf = (req: Request): string => {
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  return typeof pattern === 'string'
    ? `${req.baseUrl}${pattern}`
    : UNMATCHED_ROUTE;
};

/**
 * Observes each request's duration into
 * `http_request_duration_seconds{method,route,status_code}` when the
 * response finishes or the client goes away. Requests answered before a
 * route matched (401 from authentication, 429, 404) are labelled
 * {@link UNMATCHED_ROUTE}. Mount it first so the time includes every
 * other middleware.
 */
export const metricsMiddleware = (metrics: MiraiMetrics): RequestHandler => {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    let observed = false;

    const observe = () => {
      if (observed) return;
      observed = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequestDuration.observe(
        {
          method: req.method,
          route: routeOf(req),
          status_code: String(res.statusCode),
        },
        seconds,
      );
    };
    res.once('finish', observe);
    res.once('close', observe);
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
