import type { Candle } from '../domain/market/candle';
import type { Decimal } from '../domain/money';

/**
 * The latest candle of each symbol, and the market clock they define:
 * the close time of the newest candle seen. In a backtest or file replay
 * that clock is the data's time, so every decision replays identically.
 */
export class MarketPrices {
  private readonly latest = new Map<string, Candle>();
  private clockMs: number | null = null;

  /**
   * @param maxPriceAgeMs - a symbol whose last candle closed longer than
   *   this before the market clock has no fresh price. Default 2 hours.
   */
  constructor(private readonly maxPriceAgeMs = 2 * 3_600_000) {}

  update(candle: Candle): void {
    this.latest.set(candle.symbol, candle);
    if (this.clockMs === null || candle.closeTime > this.clockMs) {
      this.clockMs = candle.closeTime;
    }
  }

  candle(symbol: string): Candle | undefined {
    return this.latest.get(symbol);
  }

  lastPrice(symbol: string): Decimal | null {
    return this.latest.get(symbol)?.close ?? null;
  }

  isFresh(symbol: string): boolean {
    const candle = this.latest.get(symbol);
    if (!candle || this.clockMs === null) return false;
    return this.clockMs - candle.closeTime <= this.maxPriceAgeMs;
  }

  /** Market time in epoch ms, or null before the first candle. */
  nowMs(): number | null {
    return this.clockMs;
  }

  symbols(): string[] {
    return [...this.latest.keys()];
  }
}
