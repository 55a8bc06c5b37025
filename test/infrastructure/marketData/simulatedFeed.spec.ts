import { expect } from 'chai';
import Decimal from 'decimal.js';
import { MiraiError } from '../../../domain/errors';
import { Candle, candleToEventData } from '../../../domain/market/candle';
import { silentLogger } from '../../../infrastructure/logging/logger';
import {
  FeedClock,
  SimulatedFeed,
  SimulatedFeedOptions,
} from '../../../infrastructure/marketData';

const MINUTE = 60_000;
const START = Date.UTC(2024, 0, 1);

/** A clock whose sleeps return at once and only move its own time. */
const fakeClock = (
  time = 1_700_000_000_000,
): FeedClock & { sleeps: number[] } => {
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => time,
    sleep: async (ms) => {
      sleeps.push(ms);
      time += ms;
    },
  };
};

/** Runs a simulation to maxCandles with a fake clock; returns the candles. */
const simulate = async (
  options: SimulatedFeedOptions,
  clock: FeedClock = fakeClock(),
): Promise<Candle[]> => {
  const feed = new SimulatedFeed({
    startTime: START,
    logger: silentLogger,
    clock,
    ...options,
  });
  const seen: Candle[] = [];
  feed.start(async (candle) => {
    seen.push(candle);
  });
  await feed.done;
  return seen;
};

const asData = (candles: Candle[]) => candles.map(candleToEventData);

describe('SimulatedFeed', () => {
  it('gives the same candles for the same seed', async () => {
    const a = await simulate({ seed: 7, maxCandles: 300 });
    const b = await simulate({ seed: 7, maxCandles: 300 });
    const c = await simulate({ seed: 8, maxCandles: 300 });

    expect(asData(a)).to.deep.equal(asData(b));
    expect(asData(a)).not.to.deep.equal(asData(c));
  });

  it('keeps 10,000 candles valid, on the tick and continuous', async () => {
    const tickSize: Record<string, Decimal> = {
      BTCUSDT: new Decimal('0.01'),
      ETHUSDT: new Decimal('0.01'),
      ADAUSDT: new Decimal('0.0001'),
    };
    const candles = await simulate({ seed: 42, maxCandles: 10_000 });
    expect(candles).to.have.length(10_000);

    const last = new Map<string, Candle>();
    for (const c of candles) {
      const label = `${c.symbol} @ ${c.openTime}`;
      expect(c.low.lte(c.open) && c.open.lte(c.high), label).to.equal(true);
      expect(c.low.lte(c.close) && c.close.lte(c.high), label).to.equal(true);
      expect(c.low.gt(0), label).to.equal(true);
      for (const price of [c.open, c.high, c.low, c.close]) {
        expect(price.mod(tickSize[c.symbol]).isZero(), label).to.equal(true);
      }
      expect(c.volume.gte(0), label).to.equal(true);
      expect(c.volume.decimalPlaces(), label).to.be.at.most(5);
      expect(c.closeTime - c.openTime).to.equal(MINUTE);

      const previous = last.get(c.symbol);
      if (previous) {
        expect(c.openTime).to.equal(previous.openTime + MINUTE);
        expect(c.open.eq(previous.close), label).to.equal(true);
      }
      last.set(c.symbol, c);
    }
    expect([...last.keys()]).to.deep.equal(['BTCUSDT', 'ETHUSDT', 'ADAUSDT']);
  });

  it('starts at the default prices and moves them', async () => {
    const candles = await simulate({ seed: 1, maxCandles: 30 });
    expect(candles.slice(0, 3).map((c) => c.open.toString())).to.deep.equal([
      '58000',
      '3000',
      '1.2',
    ]);
    expect(candles.slice(0, 3).every((c) => c.openTime === START)).to.equal(
      true,
    );
    expect(candles.filter((c) => !c.close.eq(c.open))).to.have.length.above(20);
  });

  it('respects a tickSize map option', async () => {
    const candles = await simulate({
      symbols: ['BTCUSDT'],
      tickSize: { BTCUSDT: '0.5' },
      maxCandles: 500,
    });
    for (const c of candles) {
      for (const price of [c.open, c.high, c.low, c.close]) {
        expect(price.mod('0.5').isZero()).to.equal(true);
      }
    }
  });

  it('resumes after a last open time exactly as an unbroken run', async () => {
    const unbroken = await simulate({ seed: 3, maxCandles: 60 });
    const head = unbroken.slice(0, 30);
    const lastOf = (symbol: string) =>
      head.filter((c) => c.symbol === symbol).pop()!;
    const symbols = ['BTCUSDT', 'ETHUSDT', 'ADAUSDT'];

    const resumed = await simulate({
      seed: 3,
      maxCandles: 30,
      startTime: undefined,
      resumeAfter: Object.fromEntries(
        symbols.map((s) => [s, lastOf(s).openTime]),
      ),
      startPrices: Object.fromEntries(symbols.map((s) => [s, lastOf(s).close])),
    });

    expect(asData(resumed)).to.deep.equal(asData(unbroken.slice(30)));
  });

  it('emits one round per emitEveryMs of wall time', async () => {
    const clock = fakeClock();
    await simulate({ maxCandles: 9, emitEveryMs: 1000 }, clock);
    // Three rounds of three symbols; the last round stops before waiting.
    expect(clock.sleeps).to.deep.equal([1000, 1000]);
  });

  it('starts at now rounded down to the interval by default', async () => {
    const clock = fakeClock(Date.UTC(2024, 4, 1, 12, 34, 56, 789));
    const candles = await simulate(
      { startTime: undefined, interval: '5m', maxCandles: 1 },
      clock,
    );
    expect(candles[0].openTime).to.equal(Date.UTC(2024, 4, 1, 12, 30));
    expect(candles[0].closeTime).to.equal(Date.UTC(2024, 4, 1, 12, 35));
  });

  it('stops on stop() while waiting between rounds', async () => {
    const feed = new SimulatedFeed({
      emitEveryMs: 60_000,
      logger: silentLogger,
    });
    let first!: () => void;
    const gotFirstRound = new Promise<void>((resolve) => (first = resolve));
    let count = 0;
    feed.start(async () => {
      count += 1;
      if (count === 3) first();
    });
    await gotFirstRound;
    await feed.stop();
    expect(await feed.done).to.deep.equal({ emitted: 3, stopped: true });
  });

  it('rejects a symbol with no start price', () => {
    expect(() => new SimulatedFeed({ symbols: ['DOGEUSDT'] }))
      .to.throw(MiraiError)
      .with.property('code', 'INVALID_SYMBOL');
  });
});
