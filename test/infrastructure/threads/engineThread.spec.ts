import { expect } from 'chai';
import path from 'node:path';
import { WrongExpectedVersionError } from '../../../application/eventStore';
import { TradingEngine } from '../../../application/tradingEngine';
import { MiraiError } from '../../../domain/errors';
import { Decimal } from '../../../domain/money';
import { SqliteEventStore } from '../../../infrastructure/eventStore';
import { silentLogger } from '../../../infrastructure/logging/logger';
import {
  EngineThread,
  EngineThreadSettings,
} from '../../../infrastructure/threads/engineThread';
import {
  errorFromWire,
  errorToWire,
  openOrderFromWire,
  openOrderToWire,
  outcomeFromWire,
  outcomeToWire,
} from '../../../infrastructure/threads/engineWire';
import { hourCandle } from '../../support/candles';
import { tempDir } from '../../support/tempDirs';
import { startTestServer } from '../../support/testServer';
import type { MiraiSettings } from '../../../server';

const settingsIn = (dir: string): EngineThreadSettings => ({
  eventsPath: path.join(dir, 'events.db'),
  durability: 'full',
  writer: 'inline',
  initialBalance: '10000',
  slippageRate: '0',
  takerFeeRate: '0.001',
  makerFeeRate: '0.001',
  defaultLeverage: 1,
  maxPriceAgeMs: 2 * 3_600_000,
});

const marketOrder = () => ({
  symbol: 'BTCUSDT',
  side: 'BUY',
  type: 'MARKET',
  quantity: '0.2',
  user: 'alice',
});
const limitOrder = (price: string) => ({
  ...marketOrder(),
  type: 'LIMIT',
  price,
});

const workerOf = (engine: EngineThread) =>
  (engine as unknown as { worker: { terminate(): Promise<number> } }).worker;

/** Resolves once `check` holds; fails the test after `ms`. */
const until = async (
  check: () => boolean,
  ms = 10_000,
  refresh: () => Promise<void> = async () => undefined,
) => {
  const deadline = Date.now() + ms;
  await refresh();
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await refresh();
  }
};

/** An engine thread in a fresh folder, with the messages it logs. */
const startLogged = async () => {
  const lines: string[] = [];
  const keep = (message: string) => lines.push(message);
  const engine = await EngineThread.start({
    settings: settingsIn(tempDir('engine-thread')),
    log: { info: keep, warn: keep, error: keep },
  });
  return { engine, lines };
};

describe('engine wire (what crosses between threads)', () => {
  it('carries an outcome and an open order with their decimals exact', () => {
    const outcome = {
      orderId: 'a1',
      status: 'FILLED' as const,
      symbol: 'BTCUSDT',
      side: 'BUY',
      executedPrice: new Decimal('58450.123456789012345'),
      executedQuantity: new Decimal('0.29'),
      at: '2024-01-01T00:00:00.000Z',
      rejection: null,
      globalPosition: 2n ** 60n + 1n,
      replayed: false,
    };
    const back = outcomeFromWire(structuredClone(outcomeToWire(outcome)));
    expect(back.executedPrice!.toFixed()).to.equal('58450.123456789012345');
    expect(back.executedQuantity.toFixed()).to.equal('0.29');
    expect(back.globalPosition).to.equal(2n ** 60n + 1n);

    const order = {
      orderId: 'b2',
      symbol: 'ETHUSDT',
      side: 'SELL' as const,
      orderType: 'LIMIT' as const,
      role: 'entry' as const,
      quantity: new Decimal('1.5'),
      filledQuantity: new Decimal('0.5'),
      price: new Decimal('3000.01'),
      triggerPrice: null,
      stopLoss: new Decimal('3100'),
      takeProfit: null,
      leverage: 3,
      strategy: 'grid',
      parentOrderId: null,
      reservedMargin: new Decimal('1000.003333333333'),
      placedAt: '2024-01-01T00:00:00.000Z',
    };
    const again = openOrderFromWire(structuredClone(openOrderToWire(order)));
    expect(again.price!.toFixed()).to.equal('3000.01');
    expect(again.triggerPrice).to.equal(null);
    expect(again.reservedMargin.toFixed()).to.equal('1000.003333333333');
    expect(again.filledQuantity).to.be.instanceOf(Decimal);
    expect(again.strategy).to.equal('grid');
  });

  it('rebuilds errors as the classes the API maps to a status', () => {
    const mirai = errorFromWire(
      structuredClone(
        errorToWire(
          new MiraiError('ORDER_NOT_FOUND', 'no such order', {
            order_id: 'x',
            position: 2n ** 63n - 1n,
          }),
        ),
      ),
    );
    expect(mirai).to.be.instanceOf(MiraiError);
    expect((mirai as MiraiError).code).to.equal('ORDER_NOT_FOUND');
    expect((mirai as MiraiError).details).to.deep.equal({
      order_id: 'x',
      position: '9223372036854775807',
    });

    const race = errorFromWire(
      structuredClone(
        errorToWire(new WrongExpectedVersionError('account-main', 4n, 6n)),
      ),
    );
    expect(race).to.be.instanceOf(WrongExpectedVersionError);
    expect((race as WrongExpectedVersionError).actual).to.equal(6n);

    const disk = new Error('SQLITE_FULL: database or disk is full');
    const plain = errorFromWire(structuredClone(errorToWire(disk)));
    expect(plain).not.to.be.instanceOf(MiraiError);
    expect(plain.message).to.equal(disk.message);
    expect(plain.stack).to.equal(disk.stack);
  });
});

describe('EngineThread (the engine on a thread of its own)', function () {
  this.timeout(20_000);

  it('trades like the inline engine over the same file, and its state survives a restart', async () => {
    const dir = tempDir('engine-thread');
    const engine = await EngineThread.start({
      settings: settingsIn(dir),
      log: silentLogger,
    });
    const heads: bigint[] = [];
    const durations: number[] = [];
    const restarted = await (async () => {
      await engine.stop();
      return EngineThread.start({
        settings: settingsIn(dir),
        log: silentLogger,
        onCommitted: (head) => heads.push(head),
        onAppendSeconds: (seconds) => durations.push(seconds),
      });
    })();
    try {
      expect(
        await restarted.ingestCandle(hourCandle(0, 100, 100, 100, 100)),
      ).to.equal(true);
      const market = await restarted.placeOrder({
        symbol: 'BTCUSDT',
        side: 'BUY',
        type: 'MARKET',
        quantity: '0.29',
        user: 'alice',
      });
      expect(market.status).to.equal('FILLED');
      expect(market.executedPrice!.toFixed()).to.equal('100');
      expect(market.executedQuantity.toFixed()).to.equal('0.29');
      // The host heard of the commit before the answer settled.
      expect(heads[heads.length - 1] >= market.globalPosition).to.equal(true);
      expect(durations.length).to.be.greaterThan(0);

      const limit = await restarted.placeOrder({
        symbol: 'BTCUSDT',
        side: 'BUY',
        type: 'LIMIT',
        price: '90',
        quantity: '0.1',
        user: 'alice',
      });
      const [open] = await restarted.openOrders();
      expect(open.orderId).to.equal(limit.orderId);
      expect(open.price!.toFixed()).to.equal('90');

      // An error thrown on the thread arrives as the same kind of error.
      const missing = await restarted
        .cancelOrder('nope', 'alice')
        .catch((error: unknown) => error);
      expect(missing).to.be.instanceOf(MiraiError);
      expect((missing as MiraiError).code).to.equal('ORDER_NOT_FOUND');

      const [candle] = await restarted.lastCandles();
      expect(candle.close.toFixed()).to.equal('100');
      expect(restarted.nowIso()).to.equal(
        new Date(candle.closeTime).toISOString(),
      );
    } finally {
      await restarted.stop();
    }

    // What the thread wrote is what an inline engine reads back.
    const store = new SqliteEventStore({ path: path.join(dir, 'events.db') });
    const inline = new TradingEngine(store, silentLogger);
    await inline.start();
    const position = inline.accountState().positions.get('BTCUSDT')!;
    expect(position.size.toFixed()).to.equal('0.29');
    expect(inline.accountState().openOrders.size).to.equal(1);
    await store.close();
  });

  it('answers 503 SYSTEM_MAINTENANCE while its thread is gone, then restarts it with the account as stored', async () => {
    const { engine, lines } = await startLogged();
    try {
      await engine.ingestCandle(hourCandle(0, 100, 100, 100, 100));
      const resting = await engine.placeOrder(limitOrder('90'));
      const waiting = engine
        .placeOrder(marketOrder())
        .catch((error: unknown) => error);
      await workerOf(engine).terminate();
      // The order sent just before may have been answered first.
      const first = await waiting;
      if (first instanceof Error) {
        expect((first as MiraiError).code).to.equal('SYSTEM_MAINTENANCE');
      }
      const meanwhile = await engine.openOrders().catch((e: unknown) => e);
      expect((meanwhile as MiraiError).code).to.equal('SYSTEM_MAINTENANCE');
      expect((meanwhile as MiraiError).message).to.equal(
        'The trading engine is not running',
      );
      expect(engine.isRunning()).to.equal(false);
      expect(lines).to.include('engine thread failed');

      await until(() => engine.isRunning());
      expect(lines).to.include('engine thread restarted');
      const open = await engine.openOrders();
      expect(open.map((o) => o.orderId)).to.deep.equal([resting.orderId]);
      expect((await engine.placeOrder(marketOrder())).status).to.equal(
        'FILLED',
      );
    } finally {
      await engine.stop();
    }
  });

  it('stops restarting a thread that keeps dying, and stays refusing', async () => {
    const { engine, lines } = await startLogged();
    try {
      // Three restarts are allowed within a minute; the fourth death is final.
      for (let death = 1; death <= 3; death++) {
        await workerOf(engine).terminate();
        await until(() => engine.isRunning());
      }
      await workerOf(engine).terminate();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(engine.isRunning()).to.equal(false);
      expect(lines).to.include('engine thread keeps failing; not restarting');
      const later = await engine.openOrders().catch((e: unknown) => e);
      expect((later as MiraiError).code).to.equal('SYSTEM_MAINTENANCE');
    } finally {
      await engine.stop();
    }
  });

  it('lets commands already sent finish before it stops, and refuses later ones', async () => {
    const dir = tempDir('engine-thread');
    const engine = await EngineThread.start({
      settings: settingsIn(dir),
      log: silentLogger,
    });
    await engine.ingestCandle(hourCandle(0, 100, 100, 100, 100));
    const orders = Array.from({ length: 20 }, () =>
      engine.placeOrder({
        symbol: 'BTCUSDT',
        side: 'BUY',
        type: 'MARKET',
        quantity: '0.2',
        user: 'alice',
      }),
    );
    const stopped = engine.stop();
    const outcomes = await Promise.all(orders);
    await stopped;
    expect(outcomes.every((o) => o.status === 'FILLED')).to.equal(true);
    const after = await engine.openOrders().catch((error: unknown) => error);
    expect((after as MiraiError).code).to.equal('SYSTEM_MAINTENANCE');
    expect((after as MiraiError).message).to.equal('The engine is stopping');

    const store = new SqliteEventStore({ path: path.join(dir, 'events.db') });
    const fills = (await store.readStream('account-main')).filter(
      (e) => e.type === 'OrderFilled',
    );
    expect(fills).to.have.length(20);
    await store.close();
  });
});

describe('the engine thread dying, through the real server', function () {
  this.timeout(20_000);

  it('answers orders 503 SYSTEM_MAINTENANCE in the error format, keeps serving reads, reports itself unhealthy, and recovers with its feed', async () => {
    const server = await startTestServer({
      dataDir: tempDir('engine-thread'),
      // A candle every 20 ms: the feed must outlive the engine thread.
      feed: {
        kind: 'simulated',
        seed: 7,
        emitEveryMs: 20,
        interval: '1m',
      },
    });
    try {
      const engine = server.running.engine as unknown as {
        worker: { terminate(): Promise<number> };
      };
      await engine.worker.terminate();
      const order = await server.call('POST', '/api/trading/order', {
        symbol: 'BTCUSDT',
        side: 'BUY',
        type: 'MARKET',
        quantity: 0.001,
      });
      expect(order.status).to.equal(503);
      expect(order.body.error.code).to.equal('SYSTEM_MAINTENANCE');
      expect(order.body.error.message).to.be.a('string');
      expect(order.body.error.timestamp).to.be.a('string');
      const positions = await server.call('GET', '/api/trading/positions');
      expect(positions.status).to.equal(200);
      const health = await server.call('GET', '/api/health');
      expect(health.status).to.equal(503);
      expect(health.body.status).to.equal('unhealthy');

      // A new thread takes over: healthy again, and trading.
      const engineNow = server.running.engine as unknown as EngineThread;
      await until(() => engineNow.isRunning());
      expect((await server.call('GET', '/api/health')).status).to.equal(200);
      const newest = async () =>
        Math.max(...(await engineNow.lastCandles()).map((c) => c.openTime));
      const atRecovery = await newest();
      let later = atRecovery;
      await until(
        () => later > atRecovery,
        5_000,
        async () => {
          later = await newest();
        },
      );
    } finally {
      await server.running.close();
    }
  });
});

describe('where the engine runs, as the server says', function () {
  this.timeout(20_000);

  const startLogging = async (settings: Partial<MiraiSettings>) => {
    const lines: { message: string; fields?: Record<string, unknown> }[] = [];
    const keep = (message: string, fields?: Record<string, unknown>) =>
      lines.push({ message, fields });
    const server = await startTestServer({
      dataDir: tempDir('engine-where'),
      logger: { info: keep, warn: keep, error: keep },
      ...settings,
    });
    await server.running.close();
    return lines;
  };

  it('runs it on its thread with SQLite, and says so', async () => {
    const lines = await startLogging({});
    const started = lines.find((l) => l.message === 'server started');
    expect(started?.fields?.engine).to.equal('thread');
    // How commits land, so `--durability` can be checked from outside.
    expect(started?.fields?.durability).to.equal('full');
    expect(started?.fields?.writer).to.equal('inline');
  });

  it('logs the durability it was started with', async () => {
    const lines = await startLogging({ durability: 'normal' });
    const started = lines.find((l) => l.message === 'server started');
    expect(started?.fields?.durability).to.equal('normal');
  });

  it('runs it inline with a store a thread cannot share, and says why', async () => {
    const lines = await startLogging({ store: 'memory', engine: 'thread' });
    const started = lines.find((l) => l.message === 'server started');
    expect(started?.fields?.engine).to.equal('inline');
    expect(lines.map((l) => l.message).join('\n')).to.include(
      'only the SQLite store can be shared',
    );
  });
});
