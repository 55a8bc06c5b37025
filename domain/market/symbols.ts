import { Decimal } from '../money';

/** Exchange rules for one trading pair (values as on Binance spot). */
export interface SymbolRules {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  /** Prices must be whole multiples of this. */
  tickSize: Decimal;
  /** Highest price an order may name (limit, stop-loss, take-profit). */
  maxPrice: Decimal;
  /** Quantities must be whole multiples of this. */
  stepSize: Decimal;
  minQuantity: Decimal;
  maxQuantity: Decimal;
  /** Smallest order value (quantity × price) in the quote asset. */
  minNotional: Decimal;
  maxLeverage: number;
}

const rules = (
  symbol: string,
  baseAsset: string,
  tickSize: string,
  maxPrice: string,
  stepSize: string,
  maxQuantity: string,
  maxLeverage: number,
): SymbolRules => ({
  symbol,
  baseAsset,
  quoteAsset: 'USDT',
  tickSize: new Decimal(tickSize),
  maxPrice: new Decimal(maxPrice),
  stepSize: new Decimal(stepSize),
  minQuantity: new Decimal(stepSize),
  maxQuantity: new Decimal(maxQuantity),
  minNotional: new Decimal('5'),
  maxLeverage,
});

/** The symbols Mirai trades. */
export const SYMBOL_RULES: Readonly<Record<string, SymbolRules>> = {
  BTCUSDT: rules('BTCUSDT', 'BTC', '0.01', '1000000', '0.00001', '9000', 125),
  ETHUSDT: rules('ETHUSDT', 'ETH', '0.01', '1000000', '0.0001', '9000', 100),
  ADAUSDT: rules('ADAUSDT', 'ADA', '0.0001', '1000', '0.1', '9000000', 75),
};

export const SUPPORTED_SYMBOLS = Object.keys(SYMBOL_RULES);

export const symbolRules = (symbol: string): SymbolRules | undefined =>
  Object.prototype.hasOwnProperty.call(SYMBOL_RULES, symbol)
    ? SYMBOL_RULES[symbol]
    : undefined;
