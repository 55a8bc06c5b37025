import type { FillOrder, OpenOrder } from '../domain/account';
import type { Candle } from '../domain/market/candle';
import { symbolRules } from '../domain/market/symbols';
import { Decimal, roundMoney, slippageFactor } from '../domain/money';

/** How the simulated exchange prices fills. */
export interface PaperExchangeConfig {
  /** Fraction of the price a taker loses to slippage. Default 0.0005 (5 bp). */
  slippageRate: Decimal;
  /** Fee rate of fills that take liquidity (MARKET, stops). Default 0.001. */
  takerFeeRate: Decimal;
  /** Fee rate of resting fills (LIMIT, take-profit). Default 0.001. */
  makerFeeRate: Decimal;
}

export const DEFAULT_PAPER_EXCHANGE: PaperExchangeConfig = {
  slippageRate: new Decimal('0.0005'),
  takerFeeRate: new Decimal('0.001'),
  makerFeeRate: new Decimal('0.001'),
};

/** Rounds against the taker: up for a buy, down for a sell. */
const toTick = (price: Decimal, tick: Decimal, side: 'BUY' | 'SELL') =>
  price
    .div(tick)
    .toDecimalPlaces(
      0,
      side === 'BUY' ? Decimal.ROUND_CEIL : Decimal.ROUND_FLOOR,
    )
    .mul(tick);

/** The price a taker order gets when the market trades at `price`. */
export const takerPrice = (
  symbol: string,
  side: 'BUY' | 'SELL',
  price: Decimal,
  slippageRate: Decimal,
): Decimal => {
  const slipped = price.mul(slippageFactor(side, slippageRate));
  const tick = symbolRules(symbol)?.tickSize ?? new Decimal('0.00000001');
  return toTick(slipped, tick, side);
};

export const feeFor = (price: Decimal, quantity: Decimal, rate: Decimal) =>
  roundMoney(price.mul(quantity).mul(rate));

/**
 * The price at which a resting order trades on `candle`, or null if the
 * candle does not reach it. A buy below the market fills when the low
 * reaches its price; if the candle opened beyond the price (a gap), it
 * fills at the open, which is what the exchange would have given.
 */
const crossingPrice = (
  buysBelow: boolean,
  level: Decimal,
  candle: Candle,
): Decimal | null => {
  if (buysBelow) {
    if (candle.low.gt(level)) return null;
    return Decimal.min(candle.open, level);
  }
  if (candle.high.lt(level)) return null;
  return Decimal.max(candle.open, level);
};

/**
 * Fills that `candle` causes among the resting orders, in the order they
 * are assumed to have happened. Rules (see README, "Fill rules"):
 * - only orders placed at or before the candle's open can fill on it;
 * - LIMIT and TAKE_PROFIT fill at their price (or the open on a gap),
 *   as makers, without slippage;
 * - STOP_MARKET triggers at its price (or the open on a gap) and fills as
 *   a taker with slippage;
 * - when one candle reaches both a stop-loss and a take-profit, the
 *   stop-loss comes first, the pessimistic choice.
 */
const fillAt = (
  order: OpenOrder,
  price: Decimal,
  rate: Decimal,
  liquidity: 'maker' | 'taker',
  at: string,
): FillOrder => {
  const quantity = order.quantity.sub(order.filledQuantity);
  return {
    type: 'FillOrder',
    orderId: order.orderId,
    price,
    quantity,
    fee: feeFor(price, quantity, rate),
    liquidity,
    at,
  };
};

export const candleFills = (
  openOrders: Iterable<OpenOrder>,
  candle: Candle,
  config: PaperExchangeConfig,
): FillOrder[] => {
  const at = new Date(candle.closeTime).toISOString();
  const stops: FillOrder[] = [];
  const others: FillOrder[] = [];
  for (const order of openOrders) {
    if (order.symbol !== candle.symbol) continue;
    if (Date.parse(order.placedAt) > candle.openTime) continue;
    const isBuy = order.side === 'BUY';
    const level =
      order.orderType === 'LIMIT' ? order.price : order.triggerPrice;
    if (!level) continue;

    if (order.orderType === 'STOP_MARKET') {
      // A sell stop protects a long: it fires when the price falls to it.
      const triggered = crossingPrice(!isBuy, level, candle);
      if (!triggered) continue;
      const price = takerPrice(
        order.symbol,
        order.side,
        triggered,
        config.slippageRate,
      );
      stops.push(fillAt(order, price, config.takerFeeRate, 'taker', at));
    } else {
      const price = crossingPrice(isBuy, level, candle);
      if (!price) continue;
      others.push(fillAt(order, price, config.makerFeeRate, 'maker', at));
    }
  }
  return [...stops, ...others];
};

/** The fill of a MARKET order at the last known price. */
export const marketFill = (
  order: OpenOrder,
  lastPrice: Decimal,
  config: PaperExchangeConfig,
  at: string,
): FillOrder => {
  const price = takerPrice(
    order.symbol,
    order.side,
    lastPrice,
    config.slippageRate,
  );
  return fillAt(order, price, config.takerFeeRate, 'taker', at);
};
