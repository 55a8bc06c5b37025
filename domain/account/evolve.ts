import { Decimal } from '../money';
import type { AccountEvent } from './events';
import { AccountState, OpenOrder, Position, withOrder } from './state';

const nullableDecimal = (text: string | null): Decimal | null =>
  text === null ? null : new Decimal(text);

/**
 * Applies one recorded event to the account. Events are facts: evolve
 * never validates, it only records what the event says happened.
 */
export const evolve = (
  state: AccountState,
  event: AccountEvent,
): AccountState => {
  switch (event.type) {
    case 'AccountOpened':
      return { ...state, accountId: event.data.accountId };

    case 'FundsDeposited':
      return {
        ...state,
        walletBalance: state.walletBalance.add(event.data.amount),
      };

    case 'OrderPlaced': {
      const data = event.data;
      const order: OpenOrder = {
        orderId: data.orderId,
        symbol: data.symbol,
        side: data.side,
        orderType: data.orderType,
        role: data.role,
        quantity: new Decimal(data.quantity),
        filledQuantity: new Decimal(0),
        price: nullableDecimal(data.price),
        triggerPrice: nullableDecimal(data.triggerPrice),
        stopLoss: nullableDecimal(data.stopLoss),
        takeProfit: nullableDecimal(data.takeProfit),
        leverage: data.leverage,
        strategy: data.strategy,
        parentOrderId: data.parentOrderId,
        reservedMargin: new Decimal(data.reservedMargin),
        placedAt: data.at,
      };
      return withOrder(state, state.openOrders.get(order.orderId), order);
    }

    case 'OrderRejected':
      return state;

    case 'OrderFilled': {
      const data = event.data;
      const order = state.openOrders.get(data.orderId);
      let changed = state;
      if (order) {
        if (data.orderStatus === 'FILLED') {
          changed = withOrder(state, order, undefined);
        } else {
          const filledQuantity = order.filledQuantity.add(data.quantity);
          // Release the margin of the filled part; the rest stays reserved.
          const reservedMargin = order.reservedMargin
            .mul(order.quantity.sub(filledQuantity))
            .div(order.quantity.sub(order.filledQuantity));
          changed = withOrder(state, order, {
            ...order,
            filledQuantity,
            reservedMargin,
          });
        }
      }

      const positions = new Map(state.positions);
      if (data.position) {
        const position: Position = {
          symbol: data.symbol,
          side: data.position.side,
          size: new Decimal(data.position.size),
          entryPrice: new Decimal(data.position.entryPrice),
          entryFees: new Decimal(data.position.entryFees),
          leverage: data.position.leverage,
        };
        positions.set(data.symbol, position);
      } else {
        positions.delete(data.symbol);
      }

      return {
        ...changed,
        walletBalance: state.walletBalance.add(data.cashDelta),
        positions,
        fillCount: data.tradeId,
      };
    }

    case 'OrderCancelled':
      return withOrder(
        state,
        state.openOrders.get(event.data.orderId),
        undefined,
      );
  }
};

/** Folds a stream's events into the account state. */
export const foldAccount = (
  events: Iterable<AccountEvent>,
  state: AccountState,
): AccountState => {
  let current = state;
  for (const event of events) current = evolve(current, event);
  return current;
};
