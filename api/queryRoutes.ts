import { Request, Router } from 'express';
import { MiraiError } from '../domain/errors';
import type { Decimal } from '../domain/money';
import { HOUR_MS } from '../projections';
import { requireRole } from './auth';
import { apiNumber, apiTime } from './formatting';
import { readHandler, ReadSide } from './readSide';

const money = (value: Decimal): number => apiNumber(value.toDecimalPlaces(8));

const INTERVALS: Record<string, number> = {
  '1h': HOUR_MS,
  '4h': 4 * HOUR_MS,
  '1d': 24 * HOUR_MS,
};
/** Most buckets one performance request may ask for. */
export const MAX_PERFORMANCE_POINTS = 1_000;
const MAX_ALERTS = 1_000;
const DEFAULT_ALERTS = 50;
const ISO_TIME =
  /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d))?$/;

const invalid = (message: string, details: Record<string, unknown> = {}) =>
  new MiraiError('INVALID_REQUEST', message, details);

/** Whether `text` starts with a date the calendar has (not 2026-02-30). */
const isCalendarDate = (text: string): boolean => {
  const [year, month, day] = text.slice(0, 10).split('-').map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day
  );
};

const timeParam = (req: Request, name: string): number | undefined => {
  const raw = req.query[name];
  if (raw === undefined) return undefined;
  // Date.parse rolls 2026-02-30 over to March 2.
  const ms =
    typeof raw === 'string' && ISO_TIME.test(raw) && isCalendarDate(raw)
      ? Date.parse(raw)
      : NaN;
  if (!Number.isFinite(ms)) {
    throw invalid(
      `'${name}' must be an ISO-8601 time, e.g. 2024-01-15T14:00:00Z`,
      {
        [name]: raw,
      },
    );
  }
  return ms;
};

interface PerformanceParams {
  fromMs?: number;
  toMs?: number;
  intervalMs: number;
}

/**
 * Reads `from`, `to` (ISO-8601; `from` rounded down and `to` up to the
 * interval) and `interval` (`1h` default, `4h`, `1d`).
 */
const parsePerformance = (req: Request): PerformanceParams => {
  const rawInterval = req.query.interval ?? '1h';
  const intervalMs =
    typeof rawInterval === 'string' ? INTERVALS[rawInterval] : undefined;
  if (intervalMs === undefined) {
    throw invalid(
      `'interval' must be one of ${Object.keys(INTERVALS).join(', ')}`,
      {
        interval: rawInterval,
      },
    );
  }
  const from = timeParam(req, 'from');
  const to = timeParam(req, 'to');
  const fromMs = from === undefined ? undefined : from - (from % intervalMs);
  const toMs =
    to === undefined ? undefined : Math.ceil(to / intervalMs) * intervalMs;
  if (fromMs !== undefined && toMs !== undefined) {
    if (fromMs >= toMs) throw invalid("'from' must be before 'to'");
    if ((toMs - fromMs) / intervalMs > MAX_PERFORMANCE_POINTS) {
      throw invalid(`at most ${MAX_PERFORMANCE_POINTS} intervals per request`);
    }
  }
  return { fromMs, toMs, intervalMs };
};

const parseAlertLimit = (req: Request): number => {
  const raw = req.query.limit;
  if (raw === undefined) return DEFAULT_ALERTS;
  const limit =
    typeof raw === 'string' && /^\d{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= MAX_ALERTS)) {
    throw invalid(`'limit' must be a whole number from 1 to ${MAX_ALERTS}`, {
      limit: raw,
    });
  }
  return limit;
};

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/**
 * Read-model endpoints: trading status, performance, account and alerts,
 * and the query cache's own endpoints. Every read goes through
 * `readHandler` (consistency, cache, position header).
 */
export const queryRoutes = (read: ReadSide, mode = 'simulation'): Router => {
  const router = Router();
  const { queries } = read;

  router.get(
    '/api/trading/status',
    readHandler(
      read,
      'status',
      () => null,
      () => {
        const s = queries.status();
        return {
          is_active: s.isActive,
          mode,
          balance: {
            total: money(s.balance.total),
            available: money(s.balance.available),
            used: money(s.balance.used),
          },
          daily_pnl: money(s.dailyPnl),
          win_rate: apiNumber(s.winRate),
          risk_level: s.riskLevel,
          // No signal generator exists yet, so there is no confidence to show.
          ai_confidence: 0,
          strategies: Object.fromEntries(
            s.strategies.map((st) => [
              st.name,
              { status: st.status, win_rate: apiNumber(st.winRate) },
            ]),
          ),
        };
      },
    ),
  );

  router.get(
    '/api/trading/performance',
    readHandler(read, 'performance', parsePerformance, (params) => ({
      performance: queries.performance(params).map((p) => ({
        time: hhmm(p.start),
        pnl: money(p.pnl),
        equity: money(p.equity),
        trades: p.trades,
        timestamp: apiTime(p.start),
      })),
    })),
  );

  router.get(
    '/api/trading/account',
    readHandler(
      read,
      'account',
      () => null,
      () => {
        const a = queries.account();
        return {
          account_id: a.accountId,
          currency: a.currency,
          balance: money(a.wallet),
          equity: money(a.equity),
          unrealized_pnl: money(a.unrealizedPnl),
          margin_used: money(a.marginUsed),
          available_balance: money(a.availableForOrders),
          realized_pnl: money(a.realizedPnl),
          fees_paid: money(a.fees),
          deposits: money(a.deposits),
          open_positions: a.openPositions,
          open_orders: a.openOrders,
          trades: a.fills,
        };
      },
    ),
  );

  router.get(
    '/api/alerts',
    readHandler(read, 'alerts', parseAlertLimit, (limit) => ({
      alerts: queries.alerts(limit).map((a) => ({
        id: a.id,
        type: a.type,
        severity: a.severity,
        message: a.message,
        timestamp: apiTime(a.at),
        symbol: a.symbol,
      })),
    })),
  );

  router.get('/api/performance/summary', async (_req, res, next) => {
    try {
      const head = await read.store.headPosition();
      const cache = read.cache.stats();
      const runtime = read.runtime.counters();
      const projections = read.runtime.statuses();
      res.json({
        status: 'success',
        data: {
          // Simulation mode calls no outside service: no HTTP pools exist.
          connection_pools: { http_pools: {} },
          cache_performance: {
            hit_rate: cache.hitRate,
            total_requests: cache.requests,
            memory_items: cache.items,
          },
          task_management: {
            active_tasks: projections.filter((p) => p.state === 'running')
              .length,
            completed_tasks: runtime.committedBatches,
            success_rate:
              runtime.committedBatches + runtime.failedBatches === 0
                ? 1
                : runtime.committedBatches /
                  (runtime.committedBatches + runtime.failedBatches),
          },
          event_store: { head_position: head.toString() },
          projections: Object.fromEntries(
            projections.map((p) => [
              p.name,
              {
                state: p.state,
                checkpoint: p.checkpoint.toString(),
                lag: (head > p.checkpoint
                  ? head - p.checkpoint
                  : 0n
                ).toString(),
                ...(p.failure
                  ? {
                      failed_at: {
                        global_position: p.failure.globalPosition.toString(),
                        type: p.failure.type,
                        message: p.failure.message,
                      },
                    }
                  : {}),
              },
            ]),
          ),
        },
      });
    } catch (error) {
      next(error);
    }
  });

  router.get('/api/performance/cache/stats', (_req, res) => {
    const s = read.cache.stats();
    res.json({
      status: 'success',
      data: {
        hit_rate: s.hitRate,
        hits: s.hits,
        misses: s.misses,
        total_requests: s.requests,
        memory_items: s.items,
        max_items: s.maxItems,
        items_by_route: s.itemsByRoute,
        invalidations: {
          by_pattern: s.invalidatedByPattern,
          by_projection: s.invalidatedByProjection,
          evicted: s.evicted,
        },
      },
    });
  });

  router.post(
    '/api/performance/cache/invalidate',
    requireRole('admin'),
    (req, res) => {
      const pattern = (req.body as { pattern?: unknown } | undefined)?.pattern;
      if (
        typeof pattern !== 'string' ||
        pattern.length === 0 ||
        pattern.length > 200
      ) {
        const problem = "'pattern' must be a string of 1 to 200 characters";
        throw invalid(problem, { errors: [{ field: 'pattern', problem }] });
      }
      const invalidated = read.cache.invalidate(pattern);
      res.json({ status: 'success', data: { pattern, invalidated } });
    },
  );

  return router;
};
