import { expect } from 'chai';
import path from 'node:path';
import Decimal from 'decimal.js';
import type { Candle } from '../../domain/market/candle';
import { addUser } from '../../infrastructure/auth';
import { expectChained } from '../support/hashChain';
import {
  startTestServer,
  tempDataDir,
  TestServer,
} from '../support/testServer';

const HOUR = 3_600_000;
const D = Date.parse('2024-01-15T00:00:00Z');
const at = (hour: number) => D + hour * HOUR;

/** A 1h candle that closes at `closeHour` (hours from 2024-01-15 00:00Z). */
const candle = (symbol: string, closeHour: number, close: string): Candle => ({
  symbol,
  interval: '1h',
  openTime: at(closeHour - 1),
  closeTime: at(closeHour),
  open: new Decimal(close),
  high: new Decimal(close),
  low: new Decimal(close),
  close: new Decimal(close),
  volume: new Decimal(1),
});

/**
 * Every read endpoint through the real server, on a scripted day of
 * candles and orders whose results are worked out by hand below. No
 * slippage; taker fee 0.1 %.
 *
 * | # | market time (UTC)  | fill                       | fee   | realized |
 * |---|--------------------|----------------------------|-------|----------|
 * | 1 | 01-15 22:00        | BUY 0.1 BTC @ 40000        | 4     | 0        |
 * | 2 | 01-15 23:00        | SELL 0.1 BTC @ 41000       | 4.1   | 91.9 win |
 * | 3 | 01-16 00:00        | BUY 0.1 BTC @ 39960        | 3.996 | 0        |
 * | 4 | 01-16 00:00        | BUY 1 ETH @ 2000 (mean_r.) | 2     | 0        |
 * | 5 | 01-16 01:00        | SELL 0.1 BTC @ 40040       | 4.004 | 0 (even) |
 * | 6 | 01-16 01:00        | SELL 1 ETH @ 1900 (mean_r.)| 1.9   | -103.9   |
 * | 7 | 01-16 01:00        | BUY 0.2 BTC @ 40040, x2    | 8.008 | 0        |
 *
 * Trip 2 is break-even: 0.1 × 80 = 8 gross, 3.996 + 4.004 = 8 fees.
 * Wallet: 10000 + (100 + 8 − 100) gross − 28.008 fees = 9979.992.
 * Then BTC closes at 40540 (02:00): unrealized 0.2 × 500 = 100.
 */
// In memory the projections fold on the server's thread; on SQLite they
// run on a worker thread of their own, and commits may run on a writer
// thread. All must give the same answers.
for (const [store, writer] of [
  ['memory', 'inline'],
  ['sqlite', 'inline'],
  ['sqlite', 'thread'],
] as const)
  describe(`read models over HTTP: scripted day, ${store} store, ${writer} writer (e2e)`, () => {
    let server: TestServer;
    const dataDir = tempDataDir();

    before(async () => {
      server = await startTestServer({
        dataDir,
        store,
        writer,
        slippageRate: '0',
        takerFeeRate: '0.001',
        makerFeeRate: '0.001',
        initialBalance: '10000',
        alertRules: { drawdownPct: 1, rejectionBurst: 3 },
        maxReadWaitMs: 300,
      });
    });
    after(async () => server?.running.close());

    const ingest = (...candles: Candle[]) =>
      Promise.all(candles.map((c) => server.running.engine.ingestCandle(c)));

    /** Places a MARKET order; returns the position its events reached. */
    const order = async (fields: Record<string, unknown>) => {
      const res = await server.call('POST', '/api/trading/order', {
        type: 'MARKET',
        ...fields,
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return res.headers.get('x-mirai-position')!;
    };

    const get = async (route: string, position?: string) => {
      const sep = route.includes('?') ? '&' : '?';
      const url = position
        ? `${route}${sep}wait_for_position=${position}`
        : route;
      const res = await server.call('GET', url);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return res;
    };

    it('counts a win and the daily PnL before midnight', async () => {
      await ingest(candle('BTCUSDT', 22, '40000'));
      await order({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.1 });
      await ingest(candle('BTCUSDT', 23, '41000'));
      const position = await order({
        symbol: 'BTCUSDT',
        side: 'SELL',
        quantity: 0.1,
      });

      const status = (await get('/api/trading/status', position)).body;
      expect(status.daily_pnl).to.equal(91.9);
      expect(status.win_rate).to.equal(100);
      expect(status.balance).to.deep.equal({
        total: 10091.9,
        available: 10091.9,
        used: 0,
      });
    });

    it('plays the rest of the script', async () => {
      await ingest(
        candle('BTCUSDT', 24, '39960'),
        candle('ETHUSDT', 24, '2000'),
      );
      await order({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.1 });
      await order({
        symbol: 'ETHUSDT',
        side: 'BUY',
        quantity: 1,
        strategy: 'mean_reversion',
      });
      await ingest(
        candle('BTCUSDT', 25, '40040'),
        candle('ETHUSDT', 25, '1900'),
      );
      await order({ symbol: 'BTCUSDT', side: 'SELL', quantity: 0.1 });
      await order({
        symbol: 'ETHUSDT',
        side: 'SELL',
        quantity: 1,
        strategy: 'mean_reversion',
      });
      await order({
        symbol: 'BTCUSDT',
        side: 'BUY',
        quantity: 0.2,
        leverage: 2,
        strategy: 'momentum_breakout',
      });
      await ingest(candle('BTCUSDT', 26, '40540'));
    });

    it('shows the status: balance, daily PnL after midnight, win rate, risk', async () => {
      const res = await get('/api/trading/status');
      expect(res.body).to.deep.equal({
        is_active: true,
        mode: 'simulation',
        balance: {
          total: 10079.992,
          available: 6075.992, // total − margin used
          used: 4004, // 0.2 × 40040 / 2
        },
        // 01-16 only: 0 + 0 + 0 − 103.9 + 0; the 91.9 win was on 01-15.
        daily_pnl: -103.9,
        // Trips: win, break-even, loss.
        win_rate: 33.33,
        // 4004 / 10079.992 = 0.397
        risk_level: 'medium',
        ai_confidence: 0,
        strategies: {
          manual: { status: 'active', win_rate: 50 },
          mean_reversion: { status: 'active', win_rate: 0 },
          momentum_breakout: { status: 'active', win_rate: 0 },
        },
      });
      expect(res.headers.get('x-mirai-position')).to.match(/^\d+$/);
    });

    it('shows the open position at the latest candle', async () => {
      const res = await get('/api/trading/positions');
      expect(res.body).to.deep.equal({
        positions: [
          {
            symbol: 'BTCUSDT',
            side: 'LONG',
            size: 0.2,
            entry_price: 40040,
            current_price: 40540,
            unrealized_pnl: 100,
            margin_used: 4004,
            leverage: 2,
          },
        ],
      });
    });

    it('shows the account', async () => {
      const res = await get('/api/trading/account');
      expect(res.body).to.deep.equal({
        account_id: 'main',
        currency: 'USDT',
        balance: 9979.992,
        equity: 10079.992,
        unrealized_pnl: 100,
        margin_used: 4004,
        available_balance: 5975.992,
        realized_pnl: -12, // 91.9 + 0 − 103.9
        fees_paid: 28.008,
        deposits: 10000,
        open_positions: 1,
        open_orders: 0,
        trades: 7,
      });
    });

    it('lists trades newest first, filtered and limited', async () => {
      const all = (await get('/api/trading/trades')).body.trades;
      expect(all.map((t: { id: number }) => t.id)).to.deep.equal([
        7, 6, 5, 4, 3, 2, 1,
      ]);
      expect(all[1]).to.deep.equal({
        id: 6,
        order_id: all[1].order_id,
        symbol: 'ETHUSDT',
        action: 'SELL',
        price: 1900,
        quantity: 1,
        fee: 1.9,
        pnl: -103.9,
        timestamp: '2024-01-16T01:00:00Z',
        strategy: 'mean_reversion',
      });
      const two = (await get('/api/trading/trades?limit=2')).body.trades;
      expect(two.map((t: { id: number }) => t.id)).to.deep.equal([7, 6]);
      const eth = (await get('/api/trading/trades?symbol=ETHUSDT')).body.trades;
      expect(eth.map((t: { id: number }) => t.id)).to.deep.equal([6, 4]);
      const mr = (await get('/api/trading/trades?strategy=manual&limit=3')).body
        .trades;
      expect(mr.map((t: { id: number }) => t.id)).to.deep.equal([5, 3, 2]);
      const bad = await server.call('GET', '/api/trading/trades?limit=1001');
      expect(bad.status).to.equal(400);
    });

    it('gives hourly performance with the wallet at each hour end', async () => {
      const res = await get(
        '/api/trading/performance?from=2024-01-15T22:00:00Z&to=2024-01-16T03:00:00Z',
      );
      expect(
        res.body.performance.map((p: Record<string, unknown>) => {
          const { timestamp: _t, ...rest } = p;
          return rest;
        }),
      ).to.deep.equal([
        { time: '22:00', pnl: 0, equity: 9996, trades: 1 },
        { time: '23:00', pnl: 91.9, equity: 10091.9, trades: 1 },
        { time: '00:00', pnl: 0, equity: 10085.904, trades: 2 },
        { time: '01:00', pnl: -103.9, equity: 9979.992, trades: 3 },
        { time: '02:00', pnl: 0, equity: 9979.992, trades: 0 },
      ]);
      expect(res.body.performance[2].timestamp).to.equal(
        '2024-01-16T00:00:00Z',
      );
    });

    it('defaults to the 24 hours up to the market clock', async () => {
      const points = (await get('/api/trading/performance')).body.performance;
      expect(points).to.have.length(24);
      expect(points[0]).to.deep.include({
        time: '03:00',
        pnl: 0,
        equity: 10000,
        trades: 0,
      });
      expect(points[23]).to.deep.include({ time: '02:00', equity: 9979.992 });
    });

    it('aggregates 4h and 1d intervals', async () => {
      const four = await get(
        '/api/trading/performance?from=2024-01-15T20:00:00Z&to=2024-01-16T04:00:00Z&interval=4h',
      );
      expect(
        four.body.performance.map((p: { timestamp: string }) => {
          const { timestamp: _t, ...rest } = p as unknown as Record<
            string,
            unknown
          >;
          return rest;
        }),
      ).to.deep.equal([
        { time: '20:00', pnl: 91.9, equity: 10091.9, trades: 2 },
        { time: '00:00', pnl: -103.9, equity: 9979.992, trades: 5 },
      ]);
      const day = await get(
        '/api/trading/performance?from=2024-01-15T00:00:00Z&to=2024-01-17T00:00:00Z&interval=1d',
      );
      expect(
        day.body.performance.map((p: { pnl: number; trades: number }) => [
          p.pnl,
          p.trades,
        ]),
      ).to.deep.equal([
        [91.9, 2],
        [-103.9, 5],
      ]);
    });

    it('rejects bad performance parameters with INVALID_REQUEST', async () => {
      for (const query of [
        'interval=2h',
        'from=yesterday',
        'to=2024-13-45T00:00:00Z',
        'from=2026-02-30T00:00:00Z',
        'from=2023-02-29',
        'from=2024-01-16T00:00:00Z&to=2024-01-15T00:00:00Z',
        'from=2020-01-01T00:00:00Z&to=2024-01-01T00:00:00Z',
      ]) {
        const res = await server.call(
          'GET',
          `/api/trading/performance?${query}`,
        );
        expect(res.status, query).to.equal(400);
        expect(res.body.error.code, query).to.equal('INVALID_REQUEST');
      }
    });

    it('raises alerts for a 5 % move, a drawdown and a burst of rejections', async () => {
      let rejectedAt = 0n;
      for (let i = 0; i < 3; i++) {
        const res = await server.call('POST', '/api/trading/order', {
          symbol: 'BTCUSDT',
          side: 'BUY',
          type: 'MARKET',
          quantity: 0.000001,
        });
        expect(res.body.error.code).to.equal('INVALID_QUANTITY');
        rejectedAt = BigInt(res.headers.get('x-mirai-position')!);
      }
      // Nothing else writes: the alert is the event right after the third
      // rejection.
      const res = await get('/api/alerts', (rejectedAt + 1n).toString());
      const alerts = res.body.alerts.map((a: Record<string, unknown>) => {
        expect(a.id).to.match(/^alert_\d+$/);
        const { id: _id, ...rest } = a;
        return rest;
      });
      expect(alerts).to.deep.equal([
        {
          type: 'order_rejections',
          severity: 'warning',
          message: '3 orders rejected within 60 s',
          timestamp: '2024-01-16T02:00:00Z',
          symbol: null,
        },
        {
          type: 'drawdown',
          severity: 'critical',
          // (10091.9 − 9988) / 10091.9 after fill 6
          message:
            'Drawdown of 1.03% from the peak of 10091.9 exceeds the 1% limit',
          timestamp: '2024-01-16T01:00:00Z',
          symbol: null,
        },
        {
          type: 'price_movement',
          severity: 'warning',
          message: 'ETHUSDT price dropped 5% in 1 hour',
          timestamp: '2024-01-16T01:00:00Z',
          symbol: 'ETHUSDT',
        },
      ]);
      // Raised on the read models' thread, chained like every other event.
      const system = await server.running.store.readStream('system');
      const raised = system.filter((e) => e.type === 'AlertRaised');
      expect(raised).to.have.length(3);
      expectChained(system);
      for (const event of raised) {
        expect(event.metadata).to.include({
          correlationId: event.data.id,
          user: 'alerts',
          eventTime: event.data.at,
        });
      }
    });

    it('waits for a position, and answers 503 when it is not reached in time', async () => {
      const head = await server.running.store.headPosition();
      const ok = await get('/api/trading/positions', head.toString());
      expect(BigInt(ok.headers.get('x-mirai-position')!) >= head).to.equal(
        true,
      );
      const late = await server.call(
        'GET',
        '/api/trading/positions',
        undefined,
        {
          'X-Mirai-Wait-For': (head + 1000n).toString(),
        },
      );
      expect(late.status).to.equal(503);
      expect(late.body.error.details.wait_for_position).to.equal(
        (head + 1000n).toString(),
      );
      const bad = await server.call(
        'GET',
        '/api/trading/status?wait_for_position=-1',
      );
      expect(bad.status).to.equal(400);
    });

    it('caches answers, drops them when a read model changes, and by pattern', async () => {
      const stats = async () =>
        (await server.call('GET', '/api/performance/cache/stats')).body.data;
      await server.call('POST', '/api/performance/cache/invalidate', {
        pattern: '*',
      });
      const before = await stats();
      await get('/api/trading/positions');
      await get('/api/trading/positions');
      const after = await stats();
      expect(after.hits - before.hits).to.equal(1);
      expect(after.misses - before.misses).to.equal(1);
      expect(after.items_by_route['/api/trading/positions']).to.equal(1);

      // A new candle moves the mark price: the cached answer must go.
      await ingest(candle('BTCUSDT', 27, '40640'));
      const moved = await get('/api/trading/positions');
      expect(moved.body.positions[0].current_price).to.equal(40640);
      expect((await stats()).invalidations.by_projection).to.be.above(
        after.invalidations.by_projection,
      );

      await get('/api/trading/status');
      const dropped = await server.call(
        'POST',
        '/api/performance/cache/invalidate',
        {
          pattern: 'status',
        },
      );
      expect(dropped.body).to.deep.equal({
        status: 'success',
        data: { pattern: 'status', invalidated: 1 },
      });
      const bad = await server.call(
        'POST',
        '/api/performance/cache/invalidate',
        {},
      );
      expect(bad.status).to.equal(400);
    });

    it('lets only an admin invalidate the cache', async () => {
      await addUser(
        path.join(dataDir, 'users.json'),
        'trader1',
        'trader-password-1',
        'trader',
      );
      const login = await fetch(`${server.url}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          username: 'trader1',
          password: 'trader-password-1',
        }),
      });
      const { access_token: token } = (await login.json()) as {
        access_token: string;
      };
      const res = await server.call(
        'POST',
        '/api/performance/cache/invalidate',
        { pattern: '*' },
        { authorization: `Bearer ${token}` },
      );
      expect(res.status).to.equal(403);
      const anonymous = await fetch(
        `${server.url}/api/performance/cache/invalidate`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ pattern: '*' }),
        },
      );
      expect(anonymous.status).to.equal(401);
    });

    it('reports cache figures and every projection at the store head', async () => {
      const head = (await server.running.store.headPosition()).toString();
      await get('/api/trading/status', head);
      const res = await server.call('GET', '/api/performance/summary');
      const data = res.body.data;
      expect(data.cache_performance).to.have.keys(
        'hit_rate',
        'total_requests',
        'memory_items',
      );
      expect(data.event_store.head_position).to.equal(head);
      for (const name of [
        'market',
        'positions',
        'account',
        'performance',
        'roundTrips',
        'system',
      ]) {
        expect(data.projections[name], name).to.deep.equal({
          state: 'running',
          checkpoint: head,
          lag: '0',
        });
      }
    });

    it('shows a pause as inactive with paused strategies', async () => {
      await server.running.engine.setPaused(true, 'admin');
      const head = (await server.running.store.headPosition()).toString();
      const status = (await get('/api/trading/status', head)).body;
      expect(status.is_active).to.equal(false);
      expect(status.strategies.manual.status).to.equal('paused');
      await server.running.engine.setPaused(false, 'admin');
    });

    it('never answers one query from the cache of another that the parser read differently', async () => {
      // Express reads only the first 1,000 query parameters.
      const junk = Array.from({ length: 1000 }, (_, i) => `j${i}=0`).join('&');
      const symbolLast = await server.call(
        'GET',
        `/api/trading/trades?${junk}&symbol=ETHUSDT`,
      );
      const symbolFirst = await server.call(
        'GET',
        `/api/trading/trades?symbol=ETHUSDT&${junk}`,
      );
      const symbols = (body: { trades: { symbol: string }[] }) =>
        new Set(body.trades.map((t) => t.symbol));
      expect([...symbols(symbolFirst.body)]).to.deep.equal(['ETHUSDT']);
      expect(symbols(symbolLast.body).has('BTCUSDT')).to.equal(true);
    });
  });
