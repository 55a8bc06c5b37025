import type { Decimal } from '../money';

/** What the decider knows of the market when it decides an order. */
export interface MarketSnapshot {
  /** Last traded price of the symbol, or null when none is known. */
  lastPrice: Decimal | null;
  /** False when the last price is too old to trade on. */
  fresh: boolean;
  tradingPaused: boolean;
}

export interface OpenAccount {
  type: 'OpenAccount';
  accountId: string;
  initialBalance: Decimal;
  at: string;
}

export interface Deposit {
  type: 'Deposit';
  amount: Decimal;
  at: string;
}

/**
 * A user's order exactly as received: numeric fields are `unknown` because
 * rejecting bad ones (and recording the rejection) is the decider's job.
 */
export interface PlaceOrder {
  type: 'PlaceOrder';
  orderId: string;
  symbol: string;
  side: string;
  orderType: string;
  quantity: unknown;
  price?: unknown;
  stopLoss?: unknown;
  takeProfit?: unknown;
  leverage?: unknown;
  strategy?: string;
  market: MarketSnapshot;
  /** Fee rate used to check the account can pay for a taker fill. */
  takerFeeRate: Decimal;
  /** Slippage a MARKET order will suffer, to check margin at that price. */
  slippageRate: Decimal;
  /** Leverage for a new position when the order names none. Default 1. */
  defaultLeverage: number;
  at: string;
}

/** The paper exchange (or a real one) reports a fill. */
export interface FillOrder {
  type: 'FillOrder';
  orderId: string;
  price: Decimal;
  quantity: Decimal;
  fee: Decimal;
  liquidity: 'maker' | 'taker';
  at: string;
}

export interface CancelOrder {
  type: 'CancelOrder';
  orderId: string;
  reason: string;
  at: string;
}

export type AccountCommand =
  OpenAccount | Deposit | PlaceOrder | FillOrder | CancelOrder;
