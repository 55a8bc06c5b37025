import { MiraiError } from '../errors';
import { SymbolRules, symbolRules, SUPPORTED_SYMBOLS } from '../market/symbols';
import {
  Decimal,
  isMultipleOf,
  parseDecimal,
  roundMoney,
  slippageFactor,
  toText,
  ZERO,
} from '../money';
import type {
  AccountCommand,
  CancelOrder,
  FillOrder,
  PlaceOrder,
} from './commands';
import type {
  AccountEvent,
  OrderCancelled,
  OrderFilled,
  OrderPlaced,
  OrderRejected,
  PositionSnapshot,
} from './events';
import {
  AccountState,
  availableBalance,
  claimKey,
  direction,
  OpenOrder,
  Position,
  positionSideOf,
} from './state';

/** Rounding slack when a fill's margin is compared with its reservation. */
const MARGIN_TOLERANCE = new Decimal('0.000001');

/** Average entry prices keep this many decimals; more is noise. */
const ENTRY_PRICE_DECIMALS = 12;

/**
 * Decides what a command does to the account. Returns the events to
 * append. An order the rules refuse becomes one `OrderRejected` event; a
 * command that cannot apply at all (an unknown order id) throws.
 */
export const decide = (
  command: AccountCommand,
  state: AccountState,
): AccountEvent[] => {
  switch (command.type) {
    case 'OpenAccount':
      if (state.accountId !== null) {
        throw new MiraiError('CONFLICT', 'Account is already open');
      }
      return [
        {
          type: 'AccountOpened',
          data: {
            accountId: command.accountId,
            currency: 'USDT',
            at: command.at,
          },
        },
        {
          type: 'FundsDeposited',
          data: {
            accountId: command.accountId,
            amount: toText(command.initialBalance),
            at: command.at,
          },
        },
      ];

    case 'Deposit':
      if (state.accountId === null) {
        throw new MiraiError('CONFLICT', 'Account is not open');
      }
      if (command.amount.lte(0)) {
        throw new MiraiError('INVALID_REQUEST', 'Deposit must be positive');
      }
      return [
        {
          type: 'FundsDeposited',
          data: {
            accountId: state.accountId,
            amount: toText(command.amount),
            at: command.at,
          },
        },
      ];

    case 'PlaceOrder':
      return placeOrder(command, state);

    case 'FillOrder':
      return fillOrder(command, state);

    case 'CancelOrder':
      return cancelOrder(command, state);
  }
};

// ---------------------------------------------------------------- place

interface ValidOrder {
  symbol: string;
  side: 'BUY' | 'SELL';
  orderType: 'MARKET' | 'LIMIT';
  quantity: Decimal;
  price: Decimal | null;
  stopLoss: Decimal | null;
  takeProfit: Decimal | null;
  leverage: number;
  /** Price the order is expected to trade at: limit price, or last price with slippage. */
  referencePrice: Decimal;
  /** The part of the quantity that opens or adds exposure. */
  openingQuantity: Decimal;
  /** Margin the opening part needs at the reference price. */
  openingMargin: Decimal;
}

type Refusal = { code: string; reason: string };

const refuse = (code: string, reason: string): Refusal => ({ code, reason });

/**
 * A number the user sent, for a message: plain digits in any range a
 * price or quantity can take, an exponent beyond it (1e-320 would
 * otherwise be quoted with 320 digits).
 */
const shown = (value: Decimal): string => value.toString();

const rejection = (command: PlaceOrder, refusal: Refusal): OrderRejected => ({
  type: 'OrderRejected',
  data: {
    orderId: command.orderId,
    symbol: String(command.symbol),
    side: String(command.side),
    orderType: String(command.orderType),
    quantity: String(command.quantity),
    price:
      command.price === undefined || command.price === null
        ? null
        : String(command.price),
    code: refusal.code,
    reason: refusal.reason,
    at: command.at,
  },
});

const placeOrder = (
  command: PlaceOrder,
  state: AccountState,
): AccountEvent[] => {
  if (state.accountId === null) {
    throw new MiraiError('CONFLICT', 'Account is not open');
  }
  // Ids come from the engine (48 random bits); refusing one that is still
  // open keeps a retried command from doubling a resting order.
  if (state.openOrders.has(command.orderId)) {
    throw new MiraiError('CONFLICT', `Order id '${command.orderId}' is taken`);
  }

  const checked = validateOrder(command, state);
  if ('code' in checked) return [rejection(command, checked)];

  const placed: OrderPlaced = {
    type: 'OrderPlaced',
    data: {
      orderId: command.orderId,
      symbol: checked.symbol,
      side: checked.side,
      orderType: checked.orderType,
      role: 'entry',
      quantity: toText(checked.quantity),
      price: checked.price ? toText(checked.price) : null,
      triggerPrice: null,
      stopLoss: checked.stopLoss ? toText(checked.stopLoss) : null,
      takeProfit: checked.takeProfit ? toText(checked.takeProfit) : null,
      leverage: checked.leverage,
      strategy: command.strategy ?? 'manual',
      parentOrderId: null,
      reservedMargin: toText(roundMoney(checked.openingMargin)),
      at: command.at,
    },
  };
  return [placed];
};

/**
 * How much of a `side` order can only reduce the open position: its size,
 * less what resting entry orders on the same side already claim to
 * reduce. Without that deduction, thirty resting sells could each "close"
 * the same long and, filled together, open a short nobody paid margin for.
 */
const reducibleSize = (
  state: AccountState,
  symbol: string,
  side: 'BUY' | 'SELL',
): Decimal => {
  const position = state.positions.get(symbol);
  if (!position || position.side === positionSideOf(side)) return ZERO;
  const claimed = state.entryClaims.get(claimKey(symbol, side)) ?? ZERO;
  return Decimal.max(ZERO, position.size.sub(claimed));
};

/** Quantity of an order that opens or adds exposure, not reduces it. */
const openingQuantity = (quantity: Decimal, reducible: Decimal): Decimal =>
  Decimal.max(ZERO, quantity.sub(reducible));

const optionalPrice = (
  value: unknown,
  name: string,
  rules: SymbolRules,
): Decimal | null | Refusal => {
  if (value === undefined || value === null) return null;
  const price = parseDecimal(value);
  if (price === null || price.lte(0)) {
    return refuse('INVALID_PRICE', `${name} must be a positive number`);
  }
  if (price.gt(rules.maxPrice)) {
    return refuse(
      'INVALID_PRICE',
      `${name} ${shown(price)} is above the highest ${rules.symbol} price, ${toText(rules.maxPrice)}`,
    );
  }
  if (!isMultipleOf(price, rules.tickSize)) {
    return refuse(
      'INVALID_PRICE',
      `${name} ${shown(price)} is not a multiple of the tick size ${toText(rules.tickSize)}`,
    );
  }
  return price;
};

const isRefusal = (value: unknown): value is Refusal =>
  typeof value === 'object' && value !== null && 'code' in value;

/** Applies the symbol's rules and the account's margin to an order. */
const validateOrder = (
  command: PlaceOrder,
  state: AccountState,
): ValidOrder | Refusal => {
  const rules = symbolRules(command.symbol);
  if (!rules) {
    return refuse(
      'INVALID_SYMBOL',
      `Symbol '${command.symbol}' is not supported; supported: ${SUPPORTED_SYMBOLS.join(', ')}`,
    );
  }
  if (command.side !== 'BUY' && command.side !== 'SELL') {
    return refuse('INVALID_REQUEST', `Side must be BUY or SELL`);
  }
  if (command.orderType !== 'MARKET' && command.orderType !== 'LIMIT') {
    return refuse('INVALID_REQUEST', `Type must be MARKET or LIMIT`);
  }

  const quantity = parseDecimal(command.quantity);
  if (quantity === null || quantity.lte(0)) {
    return refuse('INVALID_QUANTITY', 'Quantity must be a positive number');
  }
  if (!isMultipleOf(quantity, rules.stepSize)) {
    return refuse(
      'INVALID_QUANTITY',
      `Quantity ${shown(quantity)} is not a multiple of the step size ${toText(rules.stepSize)}`,
    );
  }
  if (quantity.lt(rules.minQuantity) || quantity.gt(rules.maxQuantity)) {
    return refuse(
      'INVALID_QUANTITY',
      `Quantity must be between ${toText(rules.minQuantity)} and ${toText(rules.maxQuantity)}`,
    );
  }

  const price = optionalPrice(command.price, 'Price', rules);
  if (isRefusal(price)) return price;
  if (command.orderType === 'LIMIT' && price === null) {
    return refuse('INVALID_PRICE', 'A LIMIT order needs a price');
  }
  if (command.orderType === 'MARKET' && price !== null) {
    return refuse('INVALID_PRICE', 'A MARKET order takes no price');
  }
  const stopLoss = optionalPrice(command.stopLoss, 'Stop loss', rules);
  if (isRefusal(stopLoss)) return stopLoss;
  const takeProfit = optionalPrice(command.takeProfit, 'Take profit', rules);
  if (isRefusal(takeProfit)) return takeProfit;

  const { market } = command;
  if (market.tradingPaused) {
    return refuse('MARKET_CLOSED', 'Trading is paused');
  }
  if (market.lastPrice === null || !market.fresh) {
    return refuse('MARKET_CLOSED', `No fresh price for ${rules.symbol}`);
  }

  const position = state.positions.get(rules.symbol);
  const opening = openingQuantity(
    quantity,
    reducibleSize(state, rules.symbol, command.side),
  );
  const leverage = chooseLeverage(
    command,
    position,
    rules.maxLeverage,
    opening.gt(0),
  );
  if (isRefusal(leverage)) return leverage;

  // A MARKET order trades at the last price moved against it by slippage;
  // margin and exit levels are checked at that price, not the raw one.
  const referencePrice =
    price ??
    market.lastPrice.mul(slippageFactor(command.side, command.slippageRate));
  if (stopLoss || takeProfit) {
    const stopSide = checkExitSides(
      command.side,
      Decimal.min(referencePrice, market.lastPrice),
      Decimal.max(referencePrice, market.lastPrice),
      stopLoss,
      takeProfit,
    );
    if (stopSide) return stopSide;
  }

  const notional = quantity.mul(referencePrice);
  if (notional.lt(rules.minNotional)) {
    return refuse(
      'INVALID_QUANTITY',
      `Order value ${shown(notional)} is below the minimum ${toText(rules.minNotional)} USDT`,
    );
  }

  const order: ValidOrder = {
    symbol: rules.symbol,
    side: command.side,
    orderType: command.orderType,
    quantity,
    price,
    stopLoss,
    takeProfit,
    leverage,
    referencePrice,
    openingQuantity: opening,
    // An order that only reduces needs no margin: a full account must
    // always be able to close what it holds.
    openingMargin: opening.isZero()
      ? ZERO
      : opening.mul(referencePrice).div(leverage),
  };
  if (opening.isZero()) return order;
  const required = order.openingMargin.add(notional.mul(command.takerFeeRate));
  const available = availableBalance(state);
  if (required.gt(available)) {
    return refuse(
      'INSUFFICIENT_BALANCE',
      `Order needs ${toText(roundMoney(required))} USDT of margin and fees; ${toText(roundMoney(available))} available`,
    );
  }
  return order;
};

/** A new position takes the order's leverage; an open one keeps its own. */
const chooseLeverage = (
  command: PlaceOrder,
  position: Position | undefined,
  maxLeverage: number,
  opens: boolean,
): number | Refusal => {
  if (command.leverage === undefined || command.leverage === null) {
    return position?.leverage ?? command.defaultLeverage;
  }
  const leverage = command.leverage;
  if (
    typeof leverage !== 'number' ||
    !Number.isInteger(leverage) ||
    leverage < 1 ||
    leverage > maxLeverage
  ) {
    return refuse(
      'INVALID_REQUEST',
      `Leverage must be a whole number from 1 to ${maxLeverage}`,
    );
  }
  if (position && opens && position.leverage !== leverage) {
    return refuse(
      'INVALID_REQUEST',
      `The open ${position.symbol} position has leverage ${position.leverage}`,
    );
  }
  return leverage;
};

/**
 * A stop-loss sits on the losing side of the entry and a take-profit on
 * the winning side: below and above for a BUY, above and below for a SELL.
 */
const checkExitSides = (
  side: 'BUY' | 'SELL',
  lowestEntry: Decimal,
  highestEntry: Decimal,
  stopLoss: Decimal | null,
  takeProfit: Decimal | null,
): Refusal | null => {
  // The entry may land anywhere between the order's price and the market
  // (a marketable LIMIT fills at the next open): an exit must sit beyond
  // both, or it could fire at a loss on the very next candle.
  const isBuy = side === 'BUY';
  const lossBound = isBuy ? lowestEntry : highestEntry;
  const winBound = isBuy ? highestEntry : lowestEntry;
  if (stopLoss && !(isBuy ? stopLoss.lt(lossBound) : stopLoss.gt(lossBound))) {
    return refuse(
      'INVALID_PRICE',
      `Stop loss of a ${side} must be ${isBuy ? 'below' : 'above'} ${toText(lossBound)}, the entry and market price`,
    );
  }
  if (
    takeProfit &&
    !(isBuy ? takeProfit.gt(winBound) : takeProfit.lt(winBound))
  ) {
    return refuse(
      'INVALID_PRICE',
      `Take profit of a ${side} must be ${isBuy ? 'above' : 'below'} ${toText(winBound)}, the entry and market price`,
    );
  }
  return null;
};

// ----------------------------------------------------------------- fill

interface PositionChange {
  position: Position | null;
  grossPnl: Decimal;
  realizedPnl: Decimal;
  closedQuantity: Decimal;
  closedPosition: boolean;
}

/**
 * Nets a fill into the symbol's position: adds move the average entry,
 * reductions realize PnL at the unchanged average, and a fill larger than
 * the position closes it and opens the other side with the rest.
 */
export const applyFill = (
  position: Position | undefined,
  symbol: string,
  side: 'BUY' | 'SELL',
  price: Decimal,
  quantity: Decimal,
  fee: Decimal,
  leverage: number,
): PositionChange => {
  const fillSide = positionSideOf(side);
  if (!position || position.side === fillSide) {
    const size = (position?.size ?? ZERO).add(quantity);
    const cost = (position ? position.size.mul(position.entryPrice) : ZERO).add(
      quantity.mul(price),
    );
    return {
      position: {
        symbol,
        side: fillSide,
        size,
        entryPrice: cost.div(size).toDecimalPlaces(ENTRY_PRICE_DECIMALS),
        entryFees: (position?.entryFees ?? ZERO).add(fee),
        leverage: position?.leverage ?? leverage,
      },
      grossPnl: ZERO,
      realizedPnl: ZERO,
      closedQuantity: ZERO,
      closedPosition: false,
    };
  }

  const closedQuantity = Decimal.min(quantity, position.size);
  const grossPnl = price
    .sub(position.entryPrice)
    .mul(closedQuantity)
    .mul(direction(position.side));
  const closingFee = fee.mul(closedQuantity).div(quantity);
  const entryFeeShare = position.entryFees
    .mul(closedQuantity)
    .div(position.size);
  const realizedPnl = roundMoney(grossPnl.sub(closingFee).sub(entryFeeShare));
  const leftOver = position.size.sub(closedQuantity);
  const opened = quantity.sub(closedQuantity);

  let next: Position | null = null;
  if (leftOver.gt(0)) {
    next = {
      ...position,
      size: leftOver,
      entryFees: position.entryFees.sub(entryFeeShare),
    };
  } else if (opened.gt(0)) {
    next = {
      symbol,
      side: fillSide,
      size: opened,
      entryPrice: price,
      entryFees: fee.sub(closingFee),
      leverage,
    };
  }
  return {
    position: next,
    grossPnl: roundMoney(grossPnl),
    realizedPnl,
    closedQuantity,
    closedPosition: leftOver.isZero(),
  };
};

const snapshot = (position: Position | null): PositionSnapshot | null =>
  position && {
    side: position.side,
    size: toText(position.size),
    entryPrice: toText(position.entryPrice),
    entryFees: toText(roundMoney(position.entryFees)),
    leverage: position.leverage,
  };

const openOrderOrThrow = (state: AccountState, orderId: string): OpenOrder => {
  const order = state.openOrders.get(orderId);
  if (!order) {
    throw new MiraiError('ORDER_NOT_FOUND', `No open order '${orderId}'`, {
      order_id: orderId,
    });
  }
  return order;
};

const cancellation = (
  order: OpenOrder,
  reason: string,
  at: string,
): OrderCancelled => ({
  type: 'OrderCancelled',
  data: {
    orderId: order.orderId,
    symbol: order.symbol,
    side: order.side,
    reason,
    at,
  },
});

/** The stop-loss and take-profit orders that protect an entry's position. */
const linkedExits = (order: OpenOrder, quantity: Decimal, at: string) => {
  const side = order.side === 'BUY' ? 'SELL' : 'BUY';
  const exit = (
    role: 'stop_loss' | 'take_profit',
    trigger: Decimal,
  ): OrderPlaced => ({
    type: 'OrderPlaced',
    data: {
      orderId: `${order.orderId}-${role === 'stop_loss' ? 'sl' : 'tp'}`,
      symbol: order.symbol,
      side,
      orderType: role === 'stop_loss' ? 'STOP_MARKET' : 'TAKE_PROFIT',
      role,
      quantity: toText(quantity),
      price: null,
      triggerPrice: toText(trigger),
      stopLoss: null,
      takeProfit: null,
      leverage: order.leverage,
      strategy: order.strategy,
      parentOrderId: order.orderId,
      reservedMargin: '0',
      at,
    },
  });
  const exits: OrderPlaced[] = [];
  if (order.stopLoss) exits.push(exit('stop_loss', order.stopLoss));
  if (order.takeProfit) exits.push(exit('take_profit', order.takeProfit));
  return exits;
};

const fillOrder = (command: FillOrder, state: AccountState): AccountEvent[] => {
  const order = openOrderOrThrow(state, command.orderId);
  const remaining = order.quantity.sub(order.filledQuantity);
  if (command.quantity.lte(0) || command.quantity.gt(remaining)) {
    throw new MiraiError(
      'INVALID_QUANTITY',
      `Fill of ${toText(command.quantity)} does not fit the ${toText(remaining)} left on '${order.orderId}'`,
    );
  }
  const position = state.positions.get(order.symbol);

  // An exit only ever reduces: if the position shrank since it was placed,
  // it fills no more than what is left.
  let quantity = command.quantity;
  let fee = command.fee;
  if (order.role !== 'entry') {
    const reducible =
      position && position.side !== positionSideOf(order.side)
        ? position.size
        : ZERO;
    if (reducible.isZero()) {
      return [cancellation(order, 'position_closed', command.at)];
    }
    if (quantity.gt(reducible)) {
      fee = roundMoney(fee.mul(reducible).div(quantity));
      quantity = reducible;
    }
  }

  // Margin was reserved when the order was placed; if the position has
  // changed since, the fill may open more than was paid for.
  if (order.role === 'entry') {
    const reducible =
      position && position.side !== positionSideOf(order.side)
        ? position.size
        : ZERO;
    const required = openingQuantity(quantity, reducible)
      .mul(command.price)
      .div(order.leverage);
    const available = availableBalance(state).add(order.reservedMargin);
    if (required.sub(available).gt(MARGIN_TOLERANCE)) {
      return [cancellation(order, 'insufficient_margin', command.at)];
    }
  }

  const change = applyFill(
    position,
    order.symbol,
    order.side,
    command.price,
    quantity,
    fee,
    order.leverage,
  );
  const leftOnOrder = order.role === 'entry' ? remaining.sub(quantity) : ZERO;
  const status = leftOnOrder.isZero() ? 'FILLED' : 'PARTIALLY_FILLED';
  const filled: OrderFilled = {
    type: 'OrderFilled',
    data: {
      orderId: order.orderId,
      tradeId: state.fillCount + 1,
      symbol: order.symbol,
      side: order.side,
      role: order.role,
      strategy: order.strategy,
      price: toText(command.price),
      quantity: toText(quantity),
      fee: toText(fee),
      liquidity: command.liquidity,
      grossPnl: toText(change.grossPnl),
      realizedPnl: toText(change.realizedPnl),
      closedQuantity: toText(change.closedQuantity),
      closedPosition: change.closedPosition && change.closedQuantity.gt(0),
      cashDelta: toText(roundMoney(change.grossPnl.sub(fee))),
      remainingQuantity: toText(leftOnOrder),
      orderStatus: status,
      position: snapshot(change.position),
      at: command.at,
    },
  };
  const events: AccountEvent[] = [filled];

  // Exits that protected the old position no longer apply once it is gone
  // or has turned around; the one that just filled takes its sibling along.
  const positionEnded =
    change.closedQuantity.gt(0) &&
    (change.position === null || change.position.side !== position?.side);
  // Only exits are ever cancelled here: siblings share a parent entry.
  for (const other of state.openExits.values()) {
    if (other.orderId === order.orderId || other.symbol !== order.symbol) {
      continue;
    }
    const sibling =
      order.parentOrderId !== null &&
      other.parentOrderId === order.parentOrderId;
    if (sibling) {
      events.push(cancellation(other, 'oco', command.at));
    } else if (positionEnded && other.role !== 'entry') {
      events.push(cancellation(other, 'position_closed', command.at));
    }
  }

  if (order.role === 'entry' && status === 'FILLED') {
    events.push(...linkedExits(order, order.quantity, command.at));
  }
  return events;
};

// --------------------------------------------------------------- cancel

const cancelOrder = (
  command: CancelOrder,
  state: AccountState,
): AccountEvent[] => {
  const order = openOrderOrThrow(state, command.orderId);
  return [cancellation(order, command.reason, command.at)];
};
