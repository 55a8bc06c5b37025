import type { RecordedEvent } from '../application/eventStore';
import { CANDLE_CLOSED, CandleClosedData } from '../domain/market/candle';
import { Decimal } from '../domain/money';
import type { Projection, ReadModelDb } from './projection';

interface LatestCandle {
  close: string;
  openTime: number;
  closeTime: number;
}

/** Mark prices and the market clock, as the read models see them. */
export interface MarketView {
  /** Close of each symbol's newest candle. */
  prices: Map<string, { close: Decimal; closeTime: number }>;
  /** Market time in epoch ms: the newest close time, null before any. */
  clockMs: number | null;
}

/**
 * The newest candle of each symbol (`market-<SYMBOL>` streams): the mark
 * price of open positions and the market clock that dates "today".
 */
export class MarketProjection implements Projection {
  readonly name = 'market';
  private latest = new Map<string, LatestCandle>();
  private readonly dirty = new Set<string>();

  setup(db: ReadModelDb): void {
    db.exec(`CREATE TABLE IF NOT EXISTS market_latest (
      symbol TEXT PRIMARY KEY,
      close TEXT NOT NULL,
      open_time INTEGER NOT NULL,
      close_time INTEGER NOT NULL
    )`);
  }

  reset(db: ReadModelDb): void {
    db.exec('DELETE FROM market_latest');
  }

  load(db: ReadModelDb): void {
    this.latest = new Map();
    this.dirty.clear();
    const rows = db.prepare('SELECT * FROM market_latest').all() as {
      symbol: string;
      close: string;
      open_time: number;
      close_time: number;
    }[];
    for (const row of rows) {
      this.latest.set(row.symbol, {
        close: row.close,
        openTime: row.open_time,
        closeTime: row.close_time,
      });
    }
  }

  fold(event: RecordedEvent): boolean {
    if (event.type !== CANDLE_CLOSED) return false;
    const data = event.data as unknown as CandleClosedData;
    const known = this.latest.get(data.symbol);
    // The engine never stores an older candle after a newer one; a file
    // replay that did would still not move the mark price backwards.
    if (known && data.openTime <= known.openTime) return false;
    this.latest.set(data.symbol, {
      close: data.close,
      openTime: data.openTime,
      closeTime: data.closeTime,
    });
    this.dirty.add(data.symbol);
    return true;
  }

  flush(db: ReadModelDb): void {
    if (this.dirty.size === 0) return;
    const upsert = db.prepare(
      `INSERT INTO market_latest (symbol, close, open_time, close_time)
       VALUES (?, ?, ?, ?) ON CONFLICT(symbol) DO UPDATE SET
       close = excluded.close, open_time = excluded.open_time,
       close_time = excluded.close_time`,
    );
    for (const symbol of this.dirty) {
      const candle = this.latest.get(symbol)!;
      upsert.run(symbol, candle.close, candle.openTime, candle.closeTime);
    }
    this.dirty.clear();
  }
}

/** Reads the market read model. */
export const readMarket = (db: ReadModelDb): MarketView => {
  const rows = db
    .prepare('SELECT symbol, close, close_time FROM market_latest')
    .all() as { symbol: string; close: string; close_time: number }[];
  const prices = new Map<string, { close: Decimal; closeTime: number }>();
  let clockMs: number | null = null;
  for (const row of rows) {
    prices.set(row.symbol, {
      close: new Decimal(row.close),
      closeTime: row.close_time,
    });
    if (clockMs === null || row.close_time > clockMs) clockMs = row.close_time;
  }
  return { prices, clockMs };
};
