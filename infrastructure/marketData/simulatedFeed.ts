import Decimal from 'decimal.js';
import { MiraiError } from '../../domain/errors';
import { Candle, INTERVAL_MS } from '../../domain/market/candle';
import { Logger, createLogger } from '../logging/logger';
import {
  CandleSink,
  FeedClock,
  FeedLifecycle,
  FeedResult,
  wallClock,
} from './marketFeed';

/** Where each default symbol's walk starts. */
export const DEFAULT_START_PRICES: Readonly<Record<string, string>> = {
  BTCUSDT: '58000',
  ETHUSDT: '3000',
  ADAUSDT: '1.2',
};

/** Price tick per symbol; 0.01 for a symbol not listed. */
export const DEFAULT_TICK_SIZES: Readonly<Record<string, string>> = {
  BTCUSDT: '0.01',
  ETHUSDT: '0.01',
  ADAUSDT: '0.0001',
};

// Volumes are rounded down to the symbol's lot step, and sized like a
// quiet minute on Binance spot (in base asset) so charts look familiar.
const DEFAULT_VOLUME_STEPS: Record<string, string> = {
  BTCUSDT: '0.00001',
  ETHUSDT: '0.0001',
  ADAUSDT: '0.1',
};
const DEFAULT_VOLUMES_PER_MINUTE: Record<string, number> = {
  BTCUSDT: 40,
  ETHUSDT: 500,
  ADAUSDT: 250_000,
};

/** Options of {@link SimulatedFeed}. */
export interface SimulatedFeedOptions {
  /** Symbols to simulate. Default: the keys of `startPrices`. */
  symbols?: string[];
  /**
   * First open price per symbol, merged over {@link DEFAULT_START_PRICES}.
   * When resuming, pass each symbol's last close here for a seamless walk.
   */
  startPrices?: Record<string, Decimal.Value>;
  /** Price tick per symbol, merged over {@link DEFAULT_TICK_SIZES}. */
  tickSize?: Record<string, Decimal.Value>;
  /** PRNG seed; the same seed gives the same candles. Default 1. */
  seed?: number;
  /** Candle interval, a key of INTERVAL_MS. Default `'1m'`. */
  interval?: string;
  /**
   * Standard deviation of the log return per minute of market time.
   * Default 0.0008 (about 3 % a day).
   */
  volatilityPerMinute?: number;
  /**
   * Wall-clock milliseconds between rounds; each round emits one candle
   * per symbol. Default 1000 (a 1m candle a second: 60× real time).
   */
  emitEveryMs?: number;
  /**
   * Open time of the first candle, epoch ms. Default: now, rounded down
   * to the interval.
   */
  startTime?: number;
  /**
   * Per symbol, the open time (epoch ms) of the last candle already
   * stored: that symbol continues one interval later.
   */
  resumeAfter?: Record<string, number>;
  /** Stop after this many candles in total. Default: run until stopped. */
  maxCandles?: number;
  /** Where start and end are logged. Default: JSON to stdout. */
  logger?: Logger;
  /** Time source for pacing and the default start. Default: wall clock. */
  clock?: FeedClock;
}

/** Everything one simulated candle depends on. */
export interface SimulatedCandleInput {
  seed: number;
  symbol: string;
  interval: string;
  /** Epoch ms. */
  openTime: number;
  /** The previous close; must be on the tick. */
  open: Decimal;
  tickSize: Decimal;
  volumeStep: Decimal;
  /** Mean base-asset volume per minute of market time. */
  volumePerMinute: number;
  volatilityPerMinute: number;
}

// Price points walked inside a candle: open, then these, the last being
// the close. High and low are their extremes.
const STEPS_PER_CANDLE = 4;

/**
 * One candle of a geometric random walk. A pure function of its input:
 * its random numbers come from a PRNG seeded with (seed, symbol, open
 * time), so a feed resumed with the last close continues exactly as an
 * unbroken run would. Every price is on the tick; low ≤ open, close ≤ high.
 *
 * The random factors are floats, as any PRNG's output is; each price is
 * a Decimal rounded to the tick at once, so no float digit reaches a
 * candle. Math.exp/log/cos are V8's own code, the same on every platform.
 */
export const simulateCandle = (input: SimulatedCandleInput): Candle => {
  const { open, tickSize } = input;
  const intervalMs = INTERVAL_MS[input.interval];
  const minutes = intervalMs / 60_000;
  const random = mulberry32(
    candleSeed(input.seed, input.symbol, input.openTime),
  );
  const stepSigma =
    input.volatilityPerMinute * Math.sqrt(minutes / STEPS_PER_CANDLE);

  let price = open;
  let high = open;
  let low = open;
  let shocks = 0;
  for (let step = 0; step < STEPS_PER_CANDLE; step += 1) {
    const z = gaussian(random);
    shocks += z;
    price = onTick(price.times(Math.exp(stepSigma * z)), tickSize);
    if (price.gt(high)) high = price;
    if (price.lt(low)) low = price;
  }

  // Busier candles move more: scale volume with the size of the move.
  const move = Math.abs(shocks) / Math.sqrt(STEPS_PER_CANDLE);
  const amount =
    input.volumePerMinute * minutes * (0.5 + random()) * (1 + move / 2);
  const volume = new Decimal(amount.toFixed(12)).toNearest(
    input.volumeStep,
    Decimal.ROUND_DOWN,
  );

  return {
    symbol: input.symbol,
    interval: input.interval,
    openTime: input.openTime,
    closeTime: input.openTime + intervalMs,
    open,
    high,
    low,
    close: price,
    volume,
  };
};

/**
 * Emits simulated candles for several symbols: every `emitEveryMs`, one
 * candle per symbol, each open at the previous close. Deterministic for a
 * given seed, start prices and start time.
 */
export class SimulatedFeed extends FeedLifecycle<FeedResult> {
  private readonly logger: Logger;

  constructor(private readonly options: SimulatedFeedOptions = {}) {
    super(options.clock ?? wallClock);
    this.logger = options.logger ?? createLogger('simulatedFeed');
    const interval = options.interval ?? '1m';
    if (INTERVAL_MS[interval] === undefined) {
      throw new MiraiError('INVALID_REQUEST', `unknown interval ${interval}`);
    }
    for (const symbol of this.symbols()) {
      if (this.startPrices()[symbol] === undefined) {
        throw new MiraiError(
          'INVALID_SYMBOL',
          `no start price for simulated symbol ${symbol}`,
          { symbol },
        );
      }
    }
  }

  protected resultBeforeStart(): FeedResult {
    return { emitted: 0, stopped: true };
  }

  protected async run(sink: CandleSink): Promise<FeedResult> {
    const interval = this.options.interval ?? '1m';
    const intervalMs = INTERVAL_MS[interval];
    const emitEveryMs = this.options.emitEveryMs ?? 1000;
    const maxCandles = this.options.maxCandles ?? Infinity;
    const seed = this.options.seed ?? 1;
    const startTime =
      this.options.startTime ??
      Math.floor(this.clock.now() / intervalMs) * intervalMs;

    const walks = this.symbols().map((symbol) => {
      const tickSize = new Decimal(
        this.options.tickSize?.[symbol] ?? DEFAULT_TICK_SIZES[symbol] ?? '0.01',
      );
      const lastOpenTime = this.options.resumeAfter?.[symbol];
      return {
        symbol,
        tickSize,
        volumeStep: new Decimal(DEFAULT_VOLUME_STEPS[symbol] ?? '0.001'),
        volumePerMinute: DEFAULT_VOLUMES_PER_MINUTE[symbol] ?? 100,
        openTime:
          lastOpenTime === undefined ? startTime : lastOpenTime + intervalMs,
        price: onTick(new Decimal(this.startPrices()[symbol]), tickSize),
      };
    });
    this.logger.info('simulated feed started', {
      symbols: walks.map((walk) => walk.symbol),
      interval,
      seed,
      openTime: Math.min(...walks.map((walk) => walk.openTime)),
    });

    let emitted = 0;
    while (!this.stopping && emitted < maxCandles) {
      const roundStart = this.clock.now();
      for (const walk of walks) {
        if (this.stopping || emitted >= maxCandles) break;
        const candle = simulateCandle({
          seed,
          symbol: walk.symbol,
          interval,
          openTime: walk.openTime,
          open: walk.price,
          tickSize: walk.tickSize,
          volumeStep: walk.volumeStep,
          volumePerMinute: walk.volumePerMinute,
          volatilityPerMinute: this.options.volatilityPerMinute ?? 0.0008,
        });
        await sink(candle);
        emitted += 1;
        walk.price = candle.close;
        walk.openTime += intervalMs;
      }
      if (this.stopping || emitted >= maxCandles) break;
      if (emitEveryMs > 0) {
        await this.pause(emitEveryMs - (this.clock.now() - roundStart));
      } else {
        await this.yieldToEventLoop();
      }
    }

    const result = { emitted, stopped: this.stopping };
    this.logger.info('simulated feed ended', result);
    return result;
  }

  private startPrices(): Record<string, Decimal.Value> {
    return { ...DEFAULT_START_PRICES, ...this.options.startPrices };
  }

  private symbols(): string[] {
    return this.options.symbols ?? Object.keys(this.startPrices());
  }
}

/** Rounds to the nearest tick, never below one tick. */
const onTick = (price: Decimal, tickSize: Decimal): Decimal => {
  const rounded = price.toNearest(tickSize, Decimal.ROUND_HALF_UP);
  return rounded.lt(tickSize) ? tickSize : rounded;
};

/** mulberry32: a small, fast 32-bit PRNG; returns floats in [0, 1). */
const mulberry32 = (seed: number): (() => number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};

/** Hashes (seed, symbol, open time) into one 32-bit PRNG seed. */
const candleSeed = (seed: number, symbol: string, openTime: number): number => {
  let hash = avalanche(seed >>> 0);
  const absorb = (value: number): void => {
    hash = avalanche((hash ^ value) + 0x9e3779b9);
  };
  for (let i = 0; i < symbol.length; i += 1) absorb(symbol.charCodeAt(i));
  absorb(openTime % 4_294_967_296);
  absorb(Math.floor(openTime / 4_294_967_296));
  return hash;
};

// The murmur3 finaliser: every input bit flips about half the output bits,
// so neighbouring open times give unrelated candles.
const avalanche = (value: number): number => {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
};

/** A standard normal draw (Box–Muller). */
const gaussian = (random: () => number): number => {
  const u = 1 - random(); // in (0, 1], so the log is finite
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
};
