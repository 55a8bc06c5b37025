import Decimal from 'decimal.js';

/** Candle intervals Mirai understands, with their length in milliseconds. */
export const INTERVAL_MS: Record<string, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '4h': 14_400_000,
  '1d': 86_400_000,
};

/** One closed OHLCV candle. Times are Unix epoch milliseconds (UTC). */
export interface Candle {
  symbol: string;
  interval: string;
  openTime: number;
  closeTime: number;
  open: Decimal;
  high: Decimal;
  low: Decimal;
  close: Decimal;
  volume: Decimal;
}

/** The `CandleClosed` event as stored in `market-<SYMBOL>`: decimals as strings. */
export interface CandleClosedData {
  symbol: string;
  interval: string;
  openTime: number;
  closeTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

export const CANDLE_CLOSED = 'CandleClosed';

export const marketStream = (symbol: string): string => `market-${symbol}`;

export const candleToEventData = (candle: Candle): CandleClosedData => ({
  symbol: candle.symbol,
  interval: candle.interval,
  openTime: candle.openTime,
  closeTime: candle.closeTime,
  open: candle.open.toString(),
  high: candle.high.toString(),
  low: candle.low.toString(),
  close: candle.close.toString(),
  volume: candle.volume.toString(),
});

export const candleFromEventData = (data: CandleClosedData): Candle => ({
  symbol: data.symbol,
  interval: data.interval,
  openTime: data.openTime,
  closeTime: data.closeTime,
  open: new Decimal(data.open),
  high: new Decimal(data.high),
  low: new Decimal(data.low),
  close: new Decimal(data.close),
  volume: new Decimal(data.volume),
});
