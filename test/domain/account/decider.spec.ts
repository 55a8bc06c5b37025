import { expect } from 'chai';
import {
  AccountCommand,
  AccountEvent,
  decide,
  evolve,
  foldAccount,
  initialAccountState,
  availableBalance,
  OrderFilled,
  OrderPlaced,
  PlaceOrder,
} from '../../../domain/account';
import { Decimal, isMultipleOf } from '../../../domain/money';

const AT = '2021-01-01T00:00:00Z';

const opened: AccountEvent[] = [
  {
    type: 'AccountOpened',
    data: { accountId: 'main', currency: 'USDT', at: AT },
  },
  {
    type: 'FundsDeposited',
    data: { accountId: 'main', amount: '10000', at: AT },
  },
];

/** given events, when command, then events — the decider test shape. */
const given = (events: AccountEvent[]) => ({
  when: (command: AccountCommand) =>
    decide(command, foldAccount(events, initialAccountState())),
});

let orderSeq = 0;
const order = (fields: Partial<PlaceOrder>): PlaceOrder => ({
  type: 'PlaceOrder',
  orderId: `o${++orderSeq}`,
  symbol: 'BTCUSDT',
  side: 'BUY',
  orderType: 'MARKET',
  quantity: 0.1,
  market: { lastPrice: new Decimal(50000), fresh: true, tradingPaused: false },
  takerFeeRate: new Decimal('0.001'),
  slippageRate: new Decimal(0),
  defaultLeverage: 1,
  at: AT,
  ...fields,
});

const fill = (orderId: string, price: string, quantity: string, fee = '0') => ({
  type: 'FillOrder' as const,
  orderId,
  price: new Decimal(price),
  quantity: new Decimal(quantity),
  fee: new Decimal(fee),
  liquidity: 'taker' as const,
  at: AT,
});

/** Places and fills an order, returning the history grown by its events. */
const trade = (
  history: AccountEvent[],
  fields: Partial<PlaceOrder>,
  price: string,
  fee = '0',
): AccountEvent[] => {
  const command = order({
    market: {
      lastPrice: new Decimal(price),
      fresh: true,
      tradingPaused: false,
    },
    ...fields,
  });
  const placed = given(history).when(command);
  expect(placed[0].type, JSON.stringify(placed)).to.equal('OrderPlaced');
  const withOrder = [...history, ...placed];
  const quantity = (placed[0] as OrderPlaced).data.quantity;
  return [
    ...withOrder,
    ...given(withOrder).when(fill(command.orderId, price, quantity, fee)),
  ];
};

const lastFill = (events: AccountEvent[]): OrderFilled['data'] =>
  (events.filter((e) => e.type === 'OrderFilled').pop() as OrderFilled).data;

/** Id of the first entry order in `events` that carried a stop-loss. */
const lastEntryId = (events: AccountEvent[]): string =>
  (
    events.find(
      (e) => e.type === 'OrderPlaced' && e.data.stopLoss !== null,
    ) as OrderPlaced
  ).data.orderId;

const rejectionCode = (events: AccountEvent[]) => {
  expect(events).to.have.length(1);
  expect(events[0].type).to.equal('OrderRejected');
  return (events[0] as { data: { code: string } }).data.code;
};

describe('account decider', () => {
  describe('opening', () => {
    it('records the simulated balance as a deposit event', () => {
      const events = given([]).when({
        type: 'OpenAccount',
        accountId: 'main',
        initialBalance: new Decimal(10000),
        at: AT,
      });
      expect(events).to.deep.equal(opened);
    });
  });

  describe('rejections', () => {
    it('rejects an unknown symbol with INVALID_SYMBOL', () => {
      expect(
        rejectionCode(given(opened).when(order({ symbol: 'DOGEUSDT' }))),
      ).to.equal('INVALID_SYMBOL');
    });

    for (const quantity of [0, -1, 0.000001, '1e-5', 'abc', null]) {
      it(`rejects quantity ${JSON.stringify(quantity)} with INVALID_QUANTITY`, () => {
        expect(rejectionCode(given(opened).when(order({ quantity })))).to.equal(
          'INVALID_QUANTITY',
        );
      });
    }

    it('checks the step size in decimal: 0.29 is a whole number of 0.01 steps', () => {
      // In binary floats 0.29 / 0.01 is 28.999999999999996.
      expect(0.29 / 0.01).to.not.equal(29);
      expect(isMultipleOf(new Decimal('0.29'), new Decimal('0.01'))).to.equal(
        true,
      );
      const events = given(opened).when(
        order({
          symbol: 'ETHUSDT',
          quantity: 0.29,
          market: {
            lastPrice: new Decimal(1000),
            fresh: true,
            tradingPaused: false,
          },
        }),
      );
      expect(events[0].type).to.equal('OrderPlaced');
      expect((events[0] as OrderPlaced).data.quantity).to.equal('0.29');
    });

    it('rejects ADA quantity 0.29 that is off its 0.1 step', () => {
      const events = given(opened).when(
        order({ symbol: 'ADAUSDT', quantity: 100.29 }),
      );
      expect(rejectionCode(events)).to.equal('INVALID_QUANTITY');
    });

    it('rejects an order below the minimum notional', () => {
      // 0.00001 BTC at 50,000 is 0.5 USDT, under the 5 USDT minimum.
      expect(
        rejectionCode(given(opened).when(order({ quantity: 0.00001 }))),
      ).to.equal('INVALID_QUANTITY');
    });

    it('rejects a LIMIT order without a price with INVALID_PRICE', () => {
      expect(
        rejectionCode(given(opened).when(order({ orderType: 'LIMIT' }))),
      ).to.equal('INVALID_PRICE');
    });

    it("rejects a price, stop-loss or take-profit above the symbol's highest price", () => {
      for (const fields of [
        { orderType: 'LIMIT', price: '1000000.01' },
        { takeProfit: 1.7976931348623157e308 },
        { orderType: 'LIMIT', side: 'SELL', price: 60000, stopLoss: '2000000' },
      ]) {
        const events = given(opened).when(order(fields));
        expect(rejectionCode(events), JSON.stringify(fields)).to.equal(
          'INVALID_PRICE',
        );
      }
      // The highest price itself is allowed.
      const atMax = given(opened).when(
        order({ orderType: 'LIMIT', price: '1000000', quantity: 0.001 }),
      );
      expect(atMax[0].type).to.equal('OrderPlaced');
    });

    it('rejects a price off the tick size', () => {
      const events = given(opened).when(
        order({ orderType: 'LIMIT', price: 49000.005 }),
      );
      expect(rejectionCode(events)).to.equal('INVALID_PRICE');
    });

    it('rejects with MARKET_CLOSED when no price is known, stale or paused', () => {
      const markets = [
        { lastPrice: null, fresh: false, tradingPaused: false },
        { lastPrice: new Decimal(50000), fresh: false, tradingPaused: false },
        { lastPrice: new Decimal(50000), fresh: true, tradingPaused: true },
      ];
      for (const market of markets) {
        expect(rejectionCode(given(opened).when(order({ market })))).to.equal(
          'MARKET_CLOSED',
        );
      }
    });

    it('rejects INSUFFICIENT_BALANCE when margin plus fee exceeds the balance', () => {
      // 0.2 BTC at 50,000 with leverage 1 needs 10,000 margin + 10 fee.
      expect(
        rejectionCode(given(opened).when(order({ quantity: 0.2 }))),
      ).to.equal('INSUFFICIENT_BALANCE');
      // With leverage 10 it needs 1,000 + 10.
      const events = given(opened).when(order({ quantity: 0.2, leverage: 10 }));
      expect(events[0].type).to.equal('OrderPlaced');
    });

    it('puts a BUY stop-loss below and a SELL stop-loss above the price', () => {
      const buyStopAbove = order({ side: 'BUY', stopLoss: 51000 });
      expect(rejectionCode(given(opened).when(buyStopAbove))).to.equal(
        'INVALID_PRICE',
      );
      const sellStopBelow = order({ side: 'SELL', stopLoss: 49000 });
      expect(rejectionCode(given(opened).when(sellStopBelow))).to.equal(
        'INVALID_PRICE',
      );
      const buyTakeBelow = order({ side: 'BUY', takeProfit: 49000 });
      expect(rejectionCode(given(opened).when(buyTakeBelow))).to.equal(
        'INVALID_PRICE',
      );
      const ok = order({ side: 'SELL', stopLoss: 51000, takeProfit: 45000 });
      expect(given(opened).when(ok)[0].type).to.equal('OrderPlaced');
    });

    it('refuses the id of an order that is still open', () => {
      const first = order({ orderType: 'LIMIT', price: 49000 });
      const history = [...opened, ...given(opened).when(first)];
      expect(() => given(history).when({ ...first })).to.throw(/taken/);
    });
  });

  describe('margin under pressure', () => {
    it('counts resting reducing orders: a second sell of the same long must pay margin', () => {
      // Long 0.1 @ 50,000 with leverage 1 holds 5,000 of the 10,000.
      const history = trade(opened, { quantity: 0.1 }, '50000');
      const first = order({
        side: 'SELL',
        orderType: 'LIMIT',
        price: 49500,
        quantity: 0.1,
      });
      const afterFirst = [...history, ...given(history).when(first)];
      expect(
        (afterFirst[afterFirst.length - 1] as OrderPlaced).data.reservedMargin,
      ).to.equal('0');
      // The long is already claimed: this one opens a 0.2 short (9,900 margin).
      const second = order({
        side: 'SELL',
        orderType: 'LIMIT',
        price: 49500,
        quantity: 0.2,
      });
      expect(rejectionCode(given(afterFirst).when(second))).to.equal(
        'INSUFFICIENT_BALANCE',
      );
    });

    it('cancels a fill that would open more than its reserved margin', () => {
      // Long 0.1 @ 50,000 with a stop at 48,000, and a resting sell that
      // only closes it, so it reserves nothing.
      let events = trade(opened, { quantity: 0.1, stopLoss: 48000 }, '50000');
      const sell = order({
        side: 'SELL',
        orderType: 'LIMIT',
        price: 55000,
        quantity: 0.1,
      });
      events = [...events, ...given(events).when(sell)];
      // The stop closes the long first; then ETH takes 6,000 of margin.
      events = [
        ...events,
        ...given(events).when(
          fill(`${lastEntryId(events)}-sl`, '48000', '0.1'),
        ),
      ];
      events = trade(events, { symbol: 'ETHUSDT', quantity: 6 }, '1000');
      // Filling the sell now would open a 0.1 short needing 5,500: refused.
      const result = given(events).when(fill(sell.orderId, '55000', '0.1'));
      expect(result.map((e) => e.type)).to.deep.equal(['OrderCancelled']);
      expect(result[0]).to.deep.nested.include({
        'data.reason': 'insufficient_margin',
        'data.side': 'SELL',
      });
    });

    it('always lets a full account close its position', () => {
      // 0.199 @ 50,000 = 9,950 margin + 9.95 fee: almost everything.
      const history = trade(opened, { quantity: 0.199 }, '50000', '9.95');
      const state = foldAccount(history, initialAccountState());
      expect(availableBalance(state).lt(50)).to.equal(true);
      const close = given(history).when(
        order({
          side: 'SELL',
          quantity: 0.199,
          market: {
            lastPrice: new Decimal(40000),
            fresh: true,
            tradingPaused: false,
          },
        }),
      );
      expect(close[0].type).to.equal('OrderPlaced');
    });

    it('checks margin and exits at the slipped MARKET price', () => {
      const slipping = { slippageRate: new Decimal('0.001') };
      // Last 50,000, a buy fills near 50,050: a take-profit at 50,010 is a loss.
      expect(
        rejectionCode(
          given(opened).when(order({ ...slipping, takeProfit: 50010 })),
        ),
      ).to.equal('INVALID_PRICE');
      // 0.1997 @ 50,050 = 9,994.985 + fee 9.99 > 10,000; at 50,000 it would fit.
      expect(
        rejectionCode(
          given(opened).when(order({ ...slipping, quantity: 0.1997 })),
        ),
      ).to.equal('INSUFFICIENT_BALANCE');
    });

    it('keeps a marketable LIMIT buy stop below the market too', () => {
      // Limit 52,000 above a 50,000 market fills near 50,000 at the next open.
      const events = given(opened).when(
        order({ orderType: 'LIMIT', price: 52000, stopLoss: 51000 }),
      );
      expect(rejectionCode(events)).to.equal('INVALID_PRICE');
    });

    it('lets a closing order name another leverage', () => {
      const history = trade(opened, { side: 'SELL', leverage: 5 }, '50000');
      const close = given(history).when(order({ side: 'BUY', leverage: 3 }));
      expect(close[0].type).to.equal('OrderPlaced');
    });
  });

  describe('fills and positions', () => {
    it('charges the fee on both sides of a round trip, once each', () => {
      // Buy 0.1 @ 50,000: fee 5. Sell 0.1 @ 51,000: fee 5.1.
      let history = trade(opened, { side: 'BUY' }, '50000', '5');
      history = trade(history, { side: 'SELL' }, '51000', '5.1');
      const closing = lastFill(history);
      expect(closing.grossPnl).to.equal('100');
      expect(closing.realizedPnl).to.equal('89.9');
      expect(closing.closedPosition).to.equal(true);
      expect(closing.position).to.equal(null);
      const state = foldAccount(history, initialAccountState());
      // 10,000 - 5 + (100 - 5.1) = 10,089.9: equals deposit + realized PnL.
      expect(state.walletBalance.toString()).to.equal('10089.9');
    });

    it('keeps the average entry through adds and partial closes', () => {
      let history = trade(opened, { quantity: 0.1, leverage: 10 }, '50000');
      history = trade(history, { quantity: 0.3 }, '54000');
      expect(lastFill(history).position?.entryPrice).to.equal('53000');
      history = trade(history, { side: 'SELL', quantity: 0.2 }, '55000');
      const partial = lastFill(history);
      expect(partial.grossPnl).to.equal('400');
      expect(partial.position).to.deep.include({
        side: 'LONG',
        size: '0.2',
        entryPrice: '53000',
      });
      history = trade(history, { quantity: 0.2 }, '51000');
      // (0.2 * 53,000 + 0.2 * 51,000) / 0.4 = 52,000
      expect(lastFill(history).position?.entryPrice).to.equal('52000');
    });

    it('gives a short a positive PnL when the price falls', () => {
      let history = trade(opened, { side: 'SELL' }, '50000');
      expect(lastFill(history).position?.side).to.equal('SHORT');
      history = trade(history, { side: 'BUY' }, '48000');
      expect(lastFill(history).realizedPnl).to.equal('200');
      let losing = trade(opened, { side: 'SELL' }, '50000');
      losing = trade(losing, { side: 'BUY' }, '51000');
      expect(lastFill(losing).realizedPnl).to.equal('-100');
    });

    it('flips long 0.1 to short 0.2 on a sell of 0.3', () => {
      let history = trade(opened, { quantity: 0.1, leverage: 5 }, '50000');
      // Fee 15.6 on 0.3 @ 52,000: a third (5.2) closes the long.
      history = trade(
        history,
        { side: 'SELL', quantity: 0.3 },
        '52000',
        '15.6',
      );
      const flip = lastFill(history);
      expect(flip.closedQuantity).to.equal('0.1');
      expect(flip.grossPnl).to.equal('200');
      expect(flip.realizedPnl).to.equal('194.8');
      expect(flip.position).to.deep.equal({
        side: 'SHORT',
        size: '0.2',
        entryPrice: '52000',
        entryFees: '10.4',
        leverage: 5,
      });
    });

    it('fills a LIMIT order partly, then fully, releasing reserved margin', () => {
      const limit = order({ orderType: 'LIMIT', price: 49000, quantity: 0.2 });
      let history = [...opened, ...given(opened).when(limit)];
      let state = foldAccount(history, initialAccountState());
      expect(availableBalance(state).toString()).to.equal('200');
      history = [
        ...history,
        ...given(history).when(fill(limit.orderId, '49000', '0.05')),
      ];
      expect(lastFill(history)).to.deep.include({
        orderStatus: 'PARTIALLY_FILLED',
        remainingQuantity: '0.15',
      });
      history = [
        ...history,
        ...given(history).when(fill(limit.orderId, '49000', '0.15')),
      ];
      expect(lastFill(history).orderStatus).to.equal('FILLED');
      state = foldAccount(history, initialAccountState());
      expect(state.openOrders.size).to.equal(0);
      expect(state.positions.get('BTCUSDT')?.size.toString()).to.equal('0.2');
    });

    it('rejects a fill larger than what is left on the order', () => {
      const limit = order({ orderType: 'LIMIT', price: 49000 });
      const history = [...opened, ...given(opened).when(limit)];
      expect(() =>
        given(history).when(fill(limit.orderId, '49000', '0.2')),
      ).to.throw(/does not fit/);
    });

    it('turns stop-loss and take-profit into linked exits that cancel each other', () => {
      let history = trade(
        opened,
        { side: 'BUY', stopLoss: 48000, takeProfit: 53000 },
        '50000',
      );
      const state = foldAccount(history, initialAccountState());
      const exits = [...state.openOrders.values()];
      expect(
        exits.map((o) => [o.orderType, o.side, o.triggerPrice?.toString()]),
      ).to.deep.equal([
        ['STOP_MARKET', 'SELL', '48000'],
        ['TAKE_PROFIT', 'SELL', '53000'],
      ]);
      const takeProfit = exits[1];
      const after = given(history).when(
        fill(takeProfit.orderId, '53000', '0.1'),
      );
      expect(after.map((e) => e.type)).to.deep.equal([
        'OrderFilled',
        'OrderCancelled',
      ]);
      expect(after[1]).to.deep.include({
        data: {
          orderId: exits[0].orderId,
          symbol: 'BTCUSDT',
          side: 'SELL',
          reason: 'oco',
          at: AT,
        },
      });
      history = [...history, ...after];
      expect(
        foldAccount(history, initialAccountState()).openOrders.size,
      ).to.equal(0);
    });

    it('cancels exits when the position is closed by hand', () => {
      let history = trade(opened, { stopLoss: 48000 }, '50000');
      history = trade(history, { side: 'SELL' }, '50500');
      const last = history[history.length - 1];
      expect(last.type).to.equal('OrderCancelled');
      expect(
        foldAccount(history, initialAccountState()).openOrders.size,
      ).to.equal(0);
    });

    it('cancels a resting order and gives its margin back', () => {
      const limit = order({ orderType: 'LIMIT', price: 49000 });
      const history = [...opened, ...given(opened).when(limit)];
      const cancelled = given(history).when({
        type: 'CancelOrder',
        orderId: limit.orderId,
        reason: 'user',
        at: AT,
      });
      const state = foldAccount(
        [...history, ...cancelled],
        initialAccountState(),
      );
      expect(availableBalance(state).toString()).to.equal('10000');
    });
  });

  it('writes no JS float into any event', () => {
    let history = trade(
      opened,
      { quantity: 0.1, stopLoss: 48000.5 },
      '50000.01',
      '5.000001',
    );
    history = trade(
      history,
      { side: 'SELL', quantity: 0.15 },
      '50123.45',
      '7.5185175',
    );
    const floats: string[] = [];
    JSON.stringify(history, (key, value) => {
      if (typeof value === 'number' && !Number.isInteger(value))
        floats.push(key);
      return value;
    });
    expect(floats).to.deep.equal([]);
    // evolve folds every event it is given without throwing
    expect(() => history.reduce(evolve, initialAccountState())).to.not.throw();
  });
});
