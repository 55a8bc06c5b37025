import { expect } from 'chai';
import { rmSync, writeFileSync } from 'fs';
import path from 'path';
import type { Candle } from '../../../domain/market/candle';
import {
  createLogger,
  silentLogger,
} from '../../../infrastructure/logging/logger';
import {
  CandleFileIssue,
  FeedClock,
  FileFeed,
  FileFeedProgress,
} from '../../../infrastructure/marketData';
import { tempDir } from '../../support/tempDirs';

const MARKET = path.resolve(__dirname, '../../../../shared/data/market');
const BTC_1H = path.join(MARKET, 'BTC_USDT-1h.json');
const ETH_1H = path.join(MARKET, 'ETH_USDT-1h.json');
const ADA_1H = path.join(MARKET, 'ADA_USDT-1h.json');
const HOUR = 3_600_000;
const FIRST = 1606780800000;

/** A clock whose sleeps return at once and only move its own time. */
const fakeClock = (): FeedClock & { sleeps: number[] } => {
  let time = 1_700_000_000_000;
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

/** Runs a feed to its end and returns what the sink saw. */
const collect = async (feed: FileFeed): Promise<Candle[]> => {
  const seen: Candle[] = [];
  feed.start(async (candle) => {
    seen.push(candle);
  });
  await feed.done;
  return seen;
};

const key = (c: Candle): string => `${c.openTime}:${c.symbol}`;

describe('FileFeed', () => {
  it('merges two symbols in time order, then by symbol', async () => {
    const feed = new FileFeed({
      files: [ETH_1H, BTC_1H],
      maxCandles: 400,
      logger: silentLogger,
    });
    const seen = await collect(feed);

    expect(seen).to.have.length(400);
    expect(seen.slice(0, 4).map(key)).to.deep.equal([
      `${FIRST}:BTCUSDT`,
      `${FIRST}:ETHUSDT`,
      `${FIRST + HOUR}:BTCUSDT`,
      `${FIRST + HOUR}:ETHUSDT`,
    ]);
    for (let i = 1; i < seen.length; i += 1) {
      const [a, b] = [seen[i - 1], seen[i]];
      const ordered =
        a.openTime < b.openTime ||
        (a.openTime === b.openTime && a.symbol < b.symbol);
      expect(ordered, `${key(a)} before ${key(b)}`).to.equal(true);
    }
  });

  it('skips candles through each symbol’s skipThrough time', async () => {
    const resumeAt = 1609459200000; // 2021-01-01 00:00
    const feed = new FileFeed({
      files: [BTC_1H, ETH_1H],
      skipThrough: { BTCUSDT: resumeAt },
      maxCandles: 10,
      logger: silentLogger,
    });
    const seen = await collect(feed);
    const result = await feed.done;

    const btc = seen.filter((c) => c.symbol === 'BTCUSDT');
    const eth = seen.filter((c) => c.symbol === 'ETHUSDT');
    expect(eth[0].openTime).to.equal(FIRST);
    expect(eth).to.have.length(10);
    expect(btc).to.have.length(0);
    expect(result.skipped).to.be.greaterThan(0);

    const btcOnly = new FileFeed({
      files: [BTC_1H],
      skipThrough: { BTCUSDT: resumeAt },
      maxCandles: 1,
      logger: silentLogger,
    });
    const [next] = await collect(btcOnly);
    expect(next.openTime).to.equal(resumeAt + HOUR);
    // December 2020 and the first hour of 2021, less the four hours of
    // Binance maintenance in December that the file lacks.
    expect((await btcOnly.done).skipped).to.equal(31 * 24 + 1 - 4);
  });

  it('stops after maxCandles in total', async () => {
    const feed = new FileFeed({
      files: [BTC_1H, ETH_1H, ADA_1H],
      maxCandles: 7,
      logger: silentLogger,
    });
    const seen = await collect(feed);
    expect(seen).to.have.length(7);
    expect(await feed.done).to.deep.equal({
      emitted: 7,
      skipped: 0,
      issues: 0,
      stopped: false,
    });
  });

  it('replays a whole file at max speed, reporting progress', async () => {
    const progress: FileFeedProgress[] = [];
    const feed = new FileFeed({
      files: [ADA_1H],
      speed: 'max',
      progressEvery: 2000,
      onProgress: (p) => progress.push(p),
      logger: silentLogger,
    });
    const seen = await collect(feed);

    expect(seen).to.have.length(5482);
    expect(progress.map((p) => p.emitted)).to.deep.equal([2000, 4000, 5482]);
    expect(progress[2].openTime).to.equal(1626552000000);
  });

  it('lets timers run during a max-speed replay', async () => {
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 0);
    try {
      const feed = new FileFeed({
        files: [ADA_1H],
        yieldEvery: 64,
        logger: silentLogger,
      });
      // The sink resolves at once, so only the feed's own awaits (file
      // reads, yields) give the timer a turn.
      feed.start(() => Promise.resolve());
      await feed.done;
    } finally {
      clearInterval(timer);
    }
    expect(ticks).to.be.greaterThan(0);
  });

  it('waits between candles at a numeric speed', async () => {
    const clock = fakeClock();
    const feed = new FileFeed({
      files: [BTC_1H, ETH_1H],
      speed: 3600, // an hour of market time per second
      maxCandles: 6,
      clock,
      logger: silentLogger,
    });
    const seen = await collect(feed);

    expect(seen.map(key)).to.deep.equal([
      `${FIRST}:BTCUSDT`,
      `${FIRST}:ETHUSDT`,
      `${FIRST + HOUR}:BTCUSDT`,
      `${FIRST + HOUR}:ETHUSDT`,
      `${FIRST + 2 * HOUR}:BTCUSDT`,
      `${FIRST + 2 * HOUR}:ETHUSDT`,
    ]);
    // One wait per new open time; none between symbols of one hour.
    expect(clock.sleeps).to.deep.equal([1000, 1000]);
  });

  it('catches up on time a slow sink took, not adding it', async () => {
    const clock = fakeClock();
    const feed = new FileFeed({
      files: [BTC_1H],
      speed: 3600,
      maxCandles: 3,
      clock,
      logger: silentLogger,
    });
    const never = new AbortController().signal;
    feed.start(() => clock.sleep(400, never));
    await feed.done;
    // Sink sleeps: 400 each; feed waits fill each second up to 1000.
    expect(clock.sleeps).to.deep.equal([400, 600, 400, 600, 400]);
  });

  it('stop() ends a slow replay during its wait', async () => {
    const feed = new FileFeed({
      files: [BTC_1H],
      speed: 1, // real time: an hour between candles
      logger: silentLogger,
    });
    const seen: Candle[] = [];
    let first!: () => void;
    const gotFirst = new Promise<void>((resolve) => (first = resolve));
    feed.start(async (candle) => {
      seen.push(candle);
      first();
    });
    await gotFirst;
    await feed.stop();

    expect(seen).to.have.length(1);
    expect(await feed.done).to.include({ emitted: 1, stopped: true });
  });

  it('logs bad rows as JSON lines and passes them to onIssue', async () => {
    const dir = tempDir('feed');
    try {
      const file = path.join(dir, 'BTC_USDT-1m.json');
      writeFileSync(file, '[[0,1,2,0.5,1,3],\n[60000,1,2,3,1,3]]');
      const lines: string[] = [];
      const issues: CandleFileIssue[] = [];
      const feed = new FileFeed({
        files: [file],
        onIssue: (issue) => issues.push(issue),
        logger: createLogger('fileFeed', (line) => lines.push(line)),
      });
      const seen = await collect(feed);

      expect(seen).to.have.length(1);
      expect(issues).to.have.length(1);
      const warning = JSON.parse(lines[0]);
      expect(warning).to.include({
        level: 'warn',
        component: 'fileFeed',
        file,
        line: 2,
        row: 2,
      });
      expect(warning.reason).to.match(/below low/);
      expect(JSON.parse(lines[1])).to.include({ level: 'info', issues: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects done with the sink’s error', async () => {
    const feed = new FileFeed({ files: [BTC_1H], logger: silentLogger });
    feed.start(async () => {
      throw new Error('store down');
    });
    const error = await feed.done.catch((e) => e);
    expect(error.message).to.equal('store down');
  });

  it('runs once: a second start throws CONFLICT', () => {
    const feed = new FileFeed({ files: [BTC_1H], logger: silentLogger });
    feed.start(() => Promise.resolve());
    expect(() => feed.start(() => Promise.resolve()))
      .to.throw()
      .with.property('code', 'CONFLICT');
    return feed.stop();
  });
});
