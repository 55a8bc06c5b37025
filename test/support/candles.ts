import type { Candle } from '../../domain/market/candle';
import { Decimal } from '../../domain/money';

export const HOUR = 3_600_000;
/** 2021-01-01 00:00 UTC: hour 0 of hand-made candle series. */
export const T0 = Date.UTC(2021, 0, 1);

/** A BTCUSDT 1h candle opening `hour` hours after `T0`. */
export const hourCandle = (
  hour: number,
  open: number,
  high: number,
  low: number,
  close: number,
): Candle => ({
  symbol: 'BTCUSDT',
  interval: '1h',
  openTime: T0 + hour * HOUR,
  closeTime: T0 + (hour + 1) * HOUR,
  open: new Decimal(open),
  high: new Decimal(high),
  low: new Decimal(low),
  close: new Decimal(close),
  volume: new Decimal(1),
});
