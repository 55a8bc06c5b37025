/**
 * Events of the `account-<id>` stream. Every amount is a decimal string;
 * times are ISO-8601 strings from the domain clock (market time).
 */

export type OrderSide = 'BUY' | 'SELL';
export type OrderType = 'MARKET' | 'LIMIT' | 'STOP_MARKET' | 'TAKE_PROFIT';
/** Why an order exists: the user's own order or a linked exit of one. */
export type OrderRole = 'entry' | 'stop_loss' | 'take_profit';
export type PositionSide = 'LONG' | 'SHORT';

export interface AccountOpened {
  type: 'AccountOpened';
  data: { accountId: string; currency: string; at: string };
}

export interface FundsDeposited {
  type: 'FundsDeposited';
  data: { accountId: string; amount: string; at: string };
}

export interface OrderPlaced {
  type: 'OrderPlaced';
  data: {
    orderId: string;
    symbol: string;
    side: OrderSide;
    orderType: OrderType;
    role: OrderRole;
    quantity: string;
    /** Limit price; null for MARKET and stop orders. */
    price: string | null;
    /** Price at which a STOP_MARKET or TAKE_PROFIT order triggers. */
    triggerPrice: string | null;
    stopLoss: string | null;
    takeProfit: string | null;
    leverage: number;
    strategy: string;
    /** The entry order a linked exit protects; null for entries. */
    parentOrderId: string | null;
    /** Margin set aside while the order rests. */
    reservedMargin: string;
    at: string;
  };
}

export interface OrderRejected {
  type: 'OrderRejected';
  data: {
    orderId: string;
    /** As the user sent them; may be invalid, that is why it was rejected. */
    symbol: string;
    side: string;
    orderType: string;
    quantity: string;
    price: string | null;
    code: string;
    reason: string;
    at: string;
  };
}

/** A position as it stands after a fill. */
export interface PositionSnapshot {
  side: PositionSide;
  size: string;
  entryPrice: string;
  /** Entry fees not yet attributed to a closed trade. */
  entryFees: string;
  leverage: number;
}

export interface OrderFilled {
  type: 'OrderFilled';
  data: {
    orderId: string;
    /** 1-based number of this fill within the account. */
    tradeId: number;
    symbol: string;
    side: OrderSide;
    role: OrderRole;
    strategy: string;
    price: string;
    quantity: string;
    fee: string;
    liquidity: 'maker' | 'taker';
    /** Price difference times closed quantity, before any fee. */
    grossPnl: string;
    /**
     * Result of the closed part: gross PnL minus this fill's fee share and
     * the entry fees of the closed quantity. Zero when nothing closed.
     */
    realizedPnl: string;
    closedQuantity: string;
    /** True when this fill brought a position to zero (a round trip ended). */
    closedPosition: boolean;
    /** Wallet change: gross PnL minus this fill's whole fee. */
    cashDelta: string;
    remainingQuantity: string;
    orderStatus: 'FILLED' | 'PARTIALLY_FILLED';
    position: PositionSnapshot | null;
    at: string;
  };
}

export interface OrderCancelled {
  type: 'OrderCancelled';
  data: {
    orderId: string;
    symbol: string;
    /** The order's side; absent from cancels recorded before it was kept. */
    side?: OrderSide;
    /** `user`, `oco` (its linked exit filled) or `position_closed`. */
    reason: string;
    at: string;
  };
}

export type AccountEvent =
  | AccountOpened
  | FundsDeposited
  | OrderPlaced
  | OrderRejected
  | OrderFilled
  | OrderCancelled;

export type AccountEventType = AccountEvent['type'];

export const ACCOUNT_EVENT_TYPES: readonly AccountEventType[] = [
  'AccountOpened',
  'FundsDeposited',
  'OrderPlaced',
  'OrderRejected',
  'OrderFilled',
  'OrderCancelled',
];

export const accountStream = (accountId: string): string =>
  `account-${accountId}`;
