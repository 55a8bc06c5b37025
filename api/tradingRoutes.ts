import { Request, Router } from 'express';
import type { Engine } from '../application/engine';
import { MiraiError } from '../domain/errors';
import { SUPPORTED_SYMBOLS } from '../domain/market/symbols';
import { requireRole } from './auth';
import { sendError } from './errorResponse';
import { sendJson } from './sendJson';
import { apiNumber, apiTime } from './formatting';
import type { TradeQuery } from '../projections';
import { orderBodyError, validateOrderBody } from './orderSchema';
import { readHandler, ReadSide } from './readSide';

/** Header carrying the global position of the events a command wrote. */
export const POSITION_HEADER = 'X-Mirai-Position';

const MAX_TRADES = 1000;
const DEFAULT_TRADES = 50;

/** Reads `limit` strictly: a whole number from 1 to 1000. */
const parseLimit = (raw: unknown): number => {
  if (raw === undefined) return DEFAULT_TRADES;
  const limit =
    typeof raw === 'string' && /^\d{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= MAX_TRADES)) {
    throw new MiraiError(
      'INVALID_REQUEST',
      `'limit' must be a whole number from 1 to ${MAX_TRADES}`,
      { limit: raw },
    );
  }
  return limit;
};

const optionalText = (raw: unknown, name: string): string | undefined => {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 64) {
    throw new MiraiError('INVALID_REQUEST', `'${name}' must be a short string`);
  }
  return raw;
};

/** What an `Idempotency-Key` header may hold. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

/** `/api/trading/*`: orders; positions and trades from the read models. */
export const tradingRoutes = (engine: Engine, read: ReadSide): Router => {
  const router = Router();

  router.post('/order', async (req, res, next) => {
    try {
      if (!validateOrderBody(req.body)) {
        return sendError(res, orderBodyError(validateOrderBody.errors));
      }
      const body = req.body;
      const idempotencyKey = req.headers['idempotency-key'] as
        string | undefined;
      if (
        idempotencyKey !== undefined &&
        !IDEMPOTENCY_KEY.test(idempotencyKey)
      ) {
        return sendError(
          res,
          new MiraiError(
            'INVALID_REQUEST',
            'Idempotency-Key must be 1 to 128 printable ASCII characters',
            { errors: [{ field: 'Idempotency-Key', problem: 'is malformed' }] },
          ),
        );
      }
      const outcome = await engine.placeOrder({
        symbol: body.symbol,
        side: body.side,
        type: body.type,
        quantity: body.quantity,
        price: body.price,
        stopLoss: body.stop_loss,
        takeProfit: body.take_profit,
        leverage: body.leverage,
        strategy: body.strategy,
        user: res.locals.user?.username ?? 'anonymous',
        idempotencyKey,
      });
      res.setHeader(POSITION_HEADER, outcome.globalPosition.toString());
      if (outcome.replayed) res.setHeader('Idempotent-Replayed', 'true');
      if (outcome.rejection) {
        const code = outcome.rejection.code as MiraiError['code'];
        const details: Record<string, unknown> = { order_id: outcome.orderId };
        if (code === 'INVALID_SYMBOL')
          details.supported_symbols = SUPPORTED_SYMBOLS;
        return sendError(
          res,
          new MiraiError(code, outcome.rejection.reason, details),
        );
      }
      sendJson(res, {
        order_id: outcome.orderId,
        status: outcome.status,
        symbol: outcome.symbol,
        side: outcome.side,
        executed_price:
          outcome.executedPrice && apiNumber(outcome.executedPrice),
        executed_quantity: apiNumber(outcome.executedQuantity),
        timestamp: apiTime(outcome.at),
      });
    } catch (error) {
      next(error);
    }
  });

  router.delete('/orders/:orderId', async (req, res, next) => {
    try {
      const position = await engine.cancelOrder(
        req.params.orderId,
        res.locals.user?.username ?? 'anonymous',
      );
      res.set(POSITION_HEADER, position.toString());
      res.json({ order_id: req.params.orderId, status: 'CANCELLED' });
    } catch (error) {
      next(error);
    }
  });

  // Pausing stops new orders for everyone: an admin's call.
  for (const [route, paused] of [
    ['/pause', true],
    ['/resume', false],
  ] as const) {
    router.post(route, requireRole('admin'), async (_req, res, next) => {
      try {
        const position = await engine.setPaused(
          paused,
          res.locals.user?.username ?? 'anonymous',
        );
        res.setHeader(POSITION_HEADER, position.toString());
        sendJson(res, {
          status: paused ? 'paused' : 'active',
          timestamp: apiTime(engine.nowIso()),
        });
      } catch (error) {
        next(error);
      }
    });
  }

  router.get('/orders', async (_req, res, next) => {
    let open;
    try {
      open = await engine.openOrders();
    } catch (error) {
      return next(error);
    }
    const orders = open.map((o) => ({
      order_id: o.orderId,
      symbol: o.symbol,
      side: o.side,
      type: o.orderType,
      role: o.role,
      quantity: apiNumber(o.quantity),
      filled_quantity: apiNumber(o.filledQuantity),
      price: o.price && apiNumber(o.price),
      trigger_price: o.triggerPrice && apiNumber(o.triggerPrice),
      parent_order_id: o.parentOrderId,
      strategy: o.strategy,
      timestamp: apiTime(o.placedAt),
    }));
    res.json({ orders });
  });

  router.get(
    '/positions',
    readHandler(
      read,
      'positions',
      () => null,
      () => ({
        positions: read.queries.positions().map((p) => ({
          symbol: p.symbol,
          side: p.side,
          size: apiNumber(p.size),
          entry_price: apiNumber(p.entryPrice.toDecimalPlaces(8)),
          current_price: apiNumber(p.markPrice),
          unrealized_pnl: apiNumber(p.unrealizedPnl.toDecimalPlaces(8)),
          margin_used: apiNumber(p.marginUsed.toDecimalPlaces(8)),
          leverage: p.leverage,
        })),
      }),
    ),
  );

  const parseTradeQuery = (req: Request): TradeQuery => {
    const limit = parseLimit(req.query.limit);
    const symbol = optionalText(req.query.symbol, 'symbol');
    const strategy = optionalText(req.query.strategy, 'strategy');
    if (symbol !== undefined && !SUPPORTED_SYMBOLS.includes(symbol)) {
      throw new MiraiError(
        'INVALID_SYMBOL',
        `Symbol '${symbol}' is not supported`,
        {
          supported_symbols: SUPPORTED_SYMBOLS,
        },
      );
    }
    return { limit, symbol, strategy };
  };

  router.get(
    '/trades',
    readHandler(read, 'trades', parseTradeQuery, (query) => ({
      trades: read.queries.trades(query).map((fill) => ({
        id: fill.tradeId,
        order_id: fill.orderId,
        symbol: fill.symbol,
        action: fill.side,
        price: apiNumber(fill.price),
        quantity: apiNumber(fill.quantity),
        fee: apiNumber(fill.fee),
        pnl: apiNumber(fill.realizedPnl),
        timestamp: apiTime(fill.at),
        strategy: fill.strategy,
      })),
    })),
  );

  return router;
};
