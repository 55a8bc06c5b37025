import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { EventData } from '../application/eventStore';
import { Decimal } from '../domain/money';
import {
  InMemoryEventStore,
  SqliteEventStore,
} from '../infrastructure/eventStore';
import { silentLogger } from '../infrastructure/logging/logger';
import {
  createProjections,
  openReadModelDb,
  replayFromZero,
} from '../projections';
import { startMirai } from '../server';
import {
  CONNECTIONS,
  requestsPerSecond,
  SECONDS,
  startBaseline,
} from './httpLoad';
import { median, round } from './stats';

const EVENTS = 1_000_000;
const APPEND_BATCH = 1_000;
const REBUILD_RUNS = 3;
const HTTP_RUNS = 3;
const MINUTE = 60_000;
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'ADAUSDT'];
const START_PRICE: Record<string, number> = {
  BTCUSDT: 40000,
  ETHUSDT: 2000,
  ADAUSDT: 0.5,
};

/**
 * A trading history of `EVENTS` events, written straight into a SQLite
 * store: each minute one candle per symbol, and every other minute a
 * BTCUSDT order with its fill, alternately opening and closing 0.01 BTC
 * (about two thirds candles, one third account events).
 */
export const writeHistory = async (
  file: string,
  events = EVENTS,
): Promise<void> => {
  const store = new SqliteEventStore({ path: file, durability: 'normal' });
  await store.append(
    'account-main',
    [
      {
        type: 'AccountOpened',
        data: { accountId: 'main', currency: 'USDT', at: iso(0) },
      },
      {
        type: 'FundsDeposited',
        data: { accountId: 'main', amount: '10000', at: iso(0) },
      },
    ],
    'no_stream',
  );
  const fee = new Decimal('0.001');
  const qty = new Decimal('0.01');
  let written = 2;
  let minute = 0;
  let entry: Decimal | null = null;
  let entryFee = new Decimal(0);
  let tradeId = 0;
  while (written < events) {
    const market: Record<string, EventData[]> = {};
    const account: EventData[] = [];
    for (let i = 0; i < APPEND_BATCH / 5 && written < events; i++, minute++) {
      for (const symbol of SYMBOLS) {
        // A gentle wave: never a 5 % hourly move, so no alert floods.
        const wave = 1 + 0.01 * Math.sin(minute / 30);
        const close = new Decimal(START_PRICE[symbol])
          .mul(wave)
          .toDecimalPlaces(2);
        (market[symbol] ??= []).push({
          type: 'CandleClosed',
          data: {
            symbol,
            interval: '1m',
            openTime: minute * MINUTE,
            closeTime: (minute + 1) * MINUTE,
            open: close.toString(),
            high: close.toString(),
            low: close.toString(),
            close: close.toString(),
            volume: '1',
          },
        });
        written += 1;
      }
      if (minute % 2 === 1) continue;
      const price = new Decimal(START_PRICE.BTCUSDT)
        .mul(1 + 0.01 * Math.sin(minute / 30))
        .toDecimalPlaces(2);
      const orderId = `o${minute}`;
      const side = entry === null ? 'BUY' : 'SELL';
      const thisFee = price.mul(qty).mul(fee);
      const gross = entry === null ? new Decimal(0) : price.sub(entry).mul(qty);
      const realized =
        entry === null ? new Decimal(0) : gross.sub(thisFee).sub(entryFee);
      account.push(
        {
          type: 'OrderPlaced',
          data: {
            orderId,
            symbol: 'BTCUSDT',
            side,
            orderType: 'MARKET',
            role: 'entry',
            quantity: '0.01',
            price: null,
            triggerPrice: null,
            stopLoss: null,
            takeProfit: null,
            leverage: 1,
            strategy: 'grid_trading',
            parentOrderId: null,
            reservedMargin: '0',
            at: iso(minute + 1),
          },
        },
        {
          type: 'OrderFilled',
          data: {
            orderId,
            tradeId: ++tradeId,
            symbol: 'BTCUSDT',
            side,
            role: 'entry',
            strategy: 'grid_trading',
            price: price.toString(),
            quantity: '0.01',
            fee: thisFee.toString(),
            liquidity: 'taker',
            grossPnl: gross.toString(),
            realizedPnl: realized.toString(),
            closedQuantity: entry ? '0.01' : '0',
            closedPosition: entry !== null,
            cashDelta: gross.sub(thisFee).toString(),
            remainingQuantity: '0',
            orderStatus: 'FILLED',
            position:
              entry === null
                ? {
                    side: 'LONG',
                    size: '0.01',
                    entryPrice: price.toString(),
                    entryFees: thisFee.toString(),
                    leverage: 1,
                  }
                : null,
            at: iso(minute + 1),
          },
        },
      );
      written += 2;
      if (entry === null) {
        entry = price;
        entryFee = thisFee;
      } else entry = null;
    }
    await Promise.all([
      ...Object.entries(market).map(([symbol, events]) =>
        store.append(`market-${symbol}`, events, 'any'),
      ),
      store.append('account-main', account, 'any'),
    ]);
  }
  await store.close();
};

const iso = (minute: number) => new Date(minute * MINUTE).toISOString();

/** Rebuilds every projection from zero over the history; events/s. */
const rebuildOnce = async (
  eventsFile: string,
  dir: string,
): Promise<number> => {
  const store = new SqliteEventStore({ path: eventsFile });
  const dbFile = path.join(dir, `readmodels-${Date.now()}.db`);
  const db = openReadModelDb(dbFile);
  const started = performance.now();
  const result = await replayFromZero(store, db, createProjections(store));
  const seconds = (performance.now() - started) / 1000;
  db.close();
  await store.close();
  rmSync(dbFile, { force: true });
  return result.events / seconds;
};

const hammer = (url: string, route = '/api/trading/status') =>
  requestsPerSecond(`${url}${route}`);

/**
 * Rebuild speed of all projections together over 1,000,000 events (three
 * runs on one generated history, about a minute in all), then `GET
 * /api/trading/status` through the real server next to a bare express
 * handler sending the same body, alternating runs.
 */
export const runReadModelBench = async (): Promise<object[]> => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mirai-rm-bench-'));
  const eventsFile = path.join(dir, 'events.db');
  await writeHistory(eventsFile);
  const rebuilds: number[] = [];
  for (let run = 0; run < REBUILD_RUNS; run++) {
    rebuilds.push(await rebuildOnce(eventsFile, dir));
  }

  const running = await startMirai({
    port: 0,
    dataDir: path.join(dir, 'server'),
    logger: silentLogger,
    rateLimits: { public: 1e9, trading: 1e9, bulk: 1e9 },
    feed: { kind: 'none' },
    env: { MIRAI_ADMIN_PASSWORD: 'bench-password' },
  });
  const body = await (await fetch(`${running.url}/api/trading/status`)).text();
  const baseline = await startBaseline((app) =>
    app.get('/api/trading/status', (_req, res) => {
      res.type('application/json').send(body);
    }),
  );
  const mirai: number[] = [];
  const base: number[] = [];
  // The same middleware with a small handler: what the stack costs.
  const health: number[] = [];
  await hammer(running.url);
  for (let run = 0; run < HTTP_RUNS; run++) {
    base.push(await hammer(baseline.url));
    mirai.push(await hammer(running.url));
    health.push(await hammer(running.url, '/api/health'));
  }
  baseline.close();
  await running.close();
  rmSync(dir, { recursive: true, force: true });

  return [
    {
      bench: 'projections_rebuild_all',
      unit: 'events/s',
      median: round(median(rebuilds)),
      runs: rebuilds.map(round),
      events: EVENTS,
      projections: createProjections(new InMemoryEventStore()).map(
        (p) => p.name,
      ),
      target: 150_000,
    },
    {
      bench: 'http_status_express_baseline',
      unit: 'requests/s',
      median: round(median(base)),
      runs: base.map(round),
      connections: CONNECTIONS,
      seconds: SECONDS,
    },
    {
      bench: 'http_status_mirai',
      unit: 'requests/s',
      median: round(median(mirai)),
      runs: mirai.map(round),
      ratio_to_baseline: round(median(mirai) / median(base)),
      target_ratio: 0.8,
      connections: CONNECTIONS,
      seconds: SECONDS,
      note:
        'rate limits raised to 1e9/min for the bench (spec defaults 100/50/10); ' +
        'full middleware, default read-your-writes wait and query cache on',
    },
    {
      bench: 'http_health_mirai',
      unit: 'requests/s',
      median: round(median(health)),
      runs: health.map(round),
      ratio_to_baseline: round(median(health) / median(base)),
      note: 'same middleware stack; the handler reads the store head once',
    },
  ];
};
