import { OrderedMap } from 'immutable';
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

/**
 * The account as its events leave it. States are values: `evolve` returns
 * a new one and never changes the old. Open orders live in a persistent
 * map (insertion order kept), so applying an event costs the same with
 * ten resting orders or ten thousand; the totals a decision needs are
 * kept up to date alongside them instead of being summed per command.
 */
export interface AccountState {
  accountId: string | null;
  /** Deposits plus realized gross PnL minus every fee paid. */
  walletBalance: Decimal;
  positions: ReadonlyMap<string, Position>;
  openOrders: OrderedMap<string, OpenOrder>;
  /** The open orders that are exits (stop-loss, take-profit), by id. */
  openExits: OrderedMap<string, OpenOrder>;
  /** Margin reserved by every open order together. */
  reservedMargin: Decimal;
  /**
   * Quantity still to fill on open entry orders, by `claimKey(symbol,
   * side)`: what those orders may yet take off an opposite position.
   */
  entryClaims: ReadonlyMap<string, Decimal>;
  fillCount: number;
}

export const initialAccountState = (): AccountState => ({
  accountId: null,
  walletBalance: ZERO,
  positions: new Map(),
  openOrders: OrderedMap(),
  openExits: OrderedMap(),
  reservedMargin: ZERO,
  entryClaims: new Map(),
  fillCount: 0,
});

/** Key of `AccountState.entryClaims`. */
export const claimKey = (symbol: string, side: OrderSide): string =>
  `${symbol} ${side}`;

const unfilled = (order: OpenOrder): Decimal =>
  order.quantity.sub(order.filledQuantity);

/** `total` plus `added` minus `removed`, skipping what is absent or zero. */
const moved = (
  total: Decimal,
  added: Decimal | undefined,
  removed: Decimal | undefined,
): Decimal => {
  let result = total;
  if (added && !added.isZero()) result = result.add(added);
  if (removed && !removed.isZero()) result = result.sub(removed);
  return result;
};

/**
 * The state with one open order added (`before` undefined), changed, or
 * removed (`after` undefined), its totals moved by the difference: the
 * one place open orders change.
 */
export const withOrder = (
  state: AccountState,
  before: OpenOrder | undefined,
  after: OpenOrder | undefined,
): AccountState => {
  const order = after ?? before;
  if (!order) return state;
  const next: AccountState = {
    ...state,
    openOrders: after
      ? state.openOrders.set(order.orderId, after)
      : state.openOrders.delete(order.orderId),
    reservedMargin: moved(
      state.reservedMargin,
      after?.reservedMargin,
      before?.reservedMargin,
    ),
  };
  if (order.role !== 'entry') {
    next.openExits = after
      ? state.openExits.set(order.orderId, after)
      : state.openExits.delete(order.orderId);
    return next;
  }
  const key = claimKey(order.symbol, order.side);
  const claimed = moved(
    state.entryClaims.get(key) ?? ZERO,
    after && unfilled(after),
    before && unfilled(before),
  );
  const entryClaims = new Map(state.entryClaims);
  if (claimed.isZero()) entryClaims.delete(key);
  else entryClaims.set(key, claimed);
  next.entryClaims = entryClaims;
  return next;
};

/** Margin held by open positions: notional at entry over leverage. */
export const positionMargin = (position: Position): Decimal =>
  position.size.mul(position.entryPrice).div(position.leverage);

/** Margin held by positions and resting orders together. */
export const usedMargin = (state: AccountState): Decimal => {
  let total = state.reservedMargin;
  for (const position of state.positions.values()) {
    total = total.add(positionMargin(position));
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
