import { Decimal, ZERO } from '../money';
import type { OrderRole, OrderSide, OrderType, PositionSide } from './events';

export interface Position {
  symbol: string;
  side: PositionSide;
  size: Decimal;
  entryPrice: Decimal;
  /** Entry fees paid for the open size, charged to the trade that closes it. */
  entryFees: Decimal;
  leverage: number;
}

export interface OpenOrder {
  orderId: string;
  symbol: string;
  side: OrderSide;
  orderType: OrderType;
  role: OrderRole;
  quantity: Decimal;
  filledQuantity: Decimal;
  price: Decimal | null;
  triggerPrice: Decimal | null;
  stopLoss: Decimal | null;
  takeProfit: Decimal | null;
  leverage: number;
  strategy: string;
  parentOrderId: string | null;
  reservedMargin: Decimal;
  placedAt: string;
}

export interface AccountState {
  accountId: string | null;
  /** Deposits plus realized gross PnL minus every fee paid. */
  walletBalance: Decimal;
  positions: ReadonlyMap<string, Position>;
  openOrders: ReadonlyMap<string, OpenOrder>;
  fillCount: number;
}

export const initialAccountState = (): AccountState => ({
  accountId: null,
  walletBalance: ZERO,
  positions: new Map(),
  openOrders: new Map(),
  fillCount: 0,
});

/** Margin held by open positions: notional at entry over leverage. */
export const positionMargin = (position: Position): Decimal =>
  position.size.mul(position.entryPrice).div(position.leverage);

/** Margin held by positions and resting orders together. */
export const usedMargin = (state: AccountState): Decimal => {
  let total = ZERO;
  for (const position of state.positions.values()) {
    total = total.add(positionMargin(position));
  }
  for (const order of state.openOrders.values()) {
    total = total.add(order.reservedMargin);
  }
  return total;
};

/** Wallet balance not held as margin. */
export const availableBalance = (state: AccountState): Decimal =>
  state.walletBalance.sub(usedMargin(state));

/** +1 for LONG, -1 for SHORT: the sign of PnL per unit of price rise. */
export const direction = (side: PositionSide): number =>
  side === 'LONG' ? 1 : -1;

export const positionSideOf = (orderSide: OrderSide): PositionSide =>
  orderSide === 'BUY' ? 'LONG' : 'SHORT';

export const unrealizedPnl = (position: Position, mark: Decimal): Decimal =>
  mark
    .sub(position.entryPrice)
    .mul(position.size)
    .mul(direction(position.side));
