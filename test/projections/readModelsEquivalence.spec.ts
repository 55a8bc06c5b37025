import { expect } from 'chai';
import fc from 'fast-check';
import {
  defaultEngineConfig,
  TradingEngine,
} from '../../application/tradingEngine';
import type { Candle } from '../../domain/market/candle';
import { Decimal } from '../../domain/money';
import { InMemoryEventStore } from '../../infrastructure/eventStore';
import { silentLogger } from '../../infrastructure/logging/logger';
import {
  createProjections,
  openReadModelDb,
  ProjectionRuntime,
  replayFromZero,
} from '../../projections';
import { duplicatingStore, snapshot } from './support';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 15, 20);
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'] as const;
const START = { BTCUSDT: 40000, ETHUSDT: 2000 };

type Step =
  | { kind: 'candle'; symbol: 0 | 1; movePct: number }
  | {
      kind: 'order';
      symbol: 0 | 1;
      side: 'BUY' | 'SELL';
      type: 'MARKET' | 'LIMIT';
      lots: number;
      offsetPct: number;
      strategy: string;
    };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('candle' as const),
    symbol: fc.constantFrom(0 as const, 1 as const),
    // Up to ±8 % a candle, so price alerts happen too.
    movePct: fc.integer({ min: -8, max: 8 }),
  }),
  fc.record({
    kind: fc.constant('order' as const),
    symbol: fc.constantFrom(0 as const, 1 as const),
    side: fc.constantFrom('BUY' as const, 'SELL' as const),
    type: fc.constantFrom(
      'MARKET' as const,
      'MARKET' as const,
      'LIMIT' as const,
    ),
    // Zero lots is a rejected order.
    lots: fc.integer({ min: 0, max: 5 }),
    offsetPct: fc.integer({ min: -3, max: 3 }),
    strategy: fc.constantFrom('manual', 'grid_trading', 'mean_reversion'),
  }),
);

/** Plays the steps through a real engine; returns the store. */
const play = async (steps: Step[]): Promise<InMemoryEventStore> => {
  const store = new InMemoryEventStore();
  const engine = new TradingEngine(store, silentLogger, {
    ...defaultEngineConfig(),
    initialBalance: new Decimal(100000),
  });
  await engine.start();
  const price = { ...START };
  const hour = { BTCUSDT: 0, ETHUSDT: 0 };
  const candle = (symbol: keyof typeof START): Candle => {
    const close = new Decimal(price[symbol]);
    const openTime = T0 + hour[symbol]++ * HOUR;
    return {
      symbol,
      interval: '1h',
      openTime,
      closeTime: openTime + HOUR,
      open: close,
      high: close.mul(1.02).toDecimalPlaces(2),
      low: close.mul(0.98).toDecimalPlaces(2),
      close,
      volume: new Decimal(1),
    };
  };
  for (const symbol of SYMBOLS) await engine.ingestCandle(candle(symbol));
  for (const s of steps) {
    const symbol = SYMBOLS[s.symbol];
    if (s.kind === 'candle') {
      price[symbol] = Math.round(price[symbol] * (100 + s.movePct)) / 100;
      await engine.ingestCandle(candle(symbol));
    } else {
      await engine.placeOrder({
        symbol,
        side: s.side,
        type: s.type,
        quantity: symbol === 'BTCUSDT' ? s.lots / 100 : s.lots / 10,
        price:
          s.type === 'LIMIT'
            ? Math.round(price[symbol] * (100 + s.offsetPct)) / 100
            : undefined,
        strategy: s.strategy,
        user: 'test',
      });
    }
  }
  return store;
};

const foldLive = async (store: InMemoryEventStore, deliverTwice: boolean) => {
  const db = openReadModelDb(':memory:');
  const source = deliverTwice ? duplicatingStore(store) : store;
  const runtime = new ProjectionRuntime({
    store: source,
    db,
    projections: createProjections(source),
    batchSize: 7,
  });
  runtime.start();
  // The alerts manager may append: wait until nothing moves any more.
  for (let head = -1n; head !== (await store.headPosition());) {
    head = await store.headPosition();
    expect(await runtime.waitFor(head, 5000)).to.equal(true);
  }
  return { db, runtime };
};

/**
 * The same history gives the same read models folded live, folded with
 * every event delivered twice (and some thrice, out of turn), rebuilt in
 * one pass from zero, and rebuilt live by the runtime.
 */
describe('read models: live, duplicated and rebuilt folds agree (property)', () => {
  it('holds for random candle and order sequences', async () => {
    const seen = { trades: 0, alerts: 0, openOrders: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 40 }),
        async (steps) => {
          const store = await play(steps);
          const live = await foldLive(store, false);
          const twice = await foldLive(store, true);

          const rebuiltDb = openReadModelDb(':memory:');
          await replayFromZero(store, rebuiltDb, createProjections(store), {
            pageSize: 5,
          });

          const expected = snapshot(live.db);
          seen.trades += expected.trades.length;
          seen.alerts += expected.alerts.length;
          seen.openOrders += expected.account_open_orders.length;
          expect(snapshot(twice.db)).to.deep.equal(expected);
          expect(snapshot(rebuiltDb)).to.deep.equal(expected);
          await live.runtime.rebuild();
          expect(snapshot(live.db)).to.deep.equal(expected);
          await live.runtime.stop();
          await twice.runtime.stop();
        },
      ),
      { numRuns: 30 },
    );
    // The histories were not trivial: fills, resting orders and alerts.
    expect(seen.trades).to.be.above(0);
    expect(seen.openOrders).to.be.above(0);
    expect(seen.alerts).to.be.above(0);
  });
});
