import { expect } from 'chai';
import fc from 'fast-check';
import {
  AccountCommand,
  AccountState,
  decide,
  evolve,
  initialAccountState,
} from '../../../domain/account';
import { MiraiError } from '../../../domain/errors';
import { Decimal } from '../../../domain/money';
import { expectTotalsMatchOrders } from '../../support/accountTotals';

const AT = '2021-01-01T00:00:00Z';
const PRICE = 50000;

/**
 * The account keeps margin and entry-order totals beside its open orders
 * (so an order costs the same with ten thousand resting ones). Here random
 * histories of places (MARKET and LIMIT, with and without exits), partial
 * and full fills and cancels check, after every event, that the totals are
 * what summing the open orders the slow way gives.
 */
type Step =
  | {
      kind: 'place';
      side: 'BUY' | 'SELL';
      limit: boolean;
      lots: number;
      offset: number;
      exits: boolean;
    }
  | { kind: 'fill'; pick: number; part: number; move: number }
  | { kind: 'cancel'; pick: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('place' as const),
    side: fc.constantFrom('BUY' as const, 'SELL' as const),
    limit: fc.boolean(),
    lots: fc.integer({ min: 1, max: 30 }),
    offset: fc.integer({ min: 1, max: 40 }),
    exits: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('fill' as const),
    pick: fc.nat(),
    part: fc.integer({ min: 1, max: 3 }),
    move: fc.integer({ min: -60, max: 60 }),
  }),
  fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
);

const commandFor = (
  s: Step,
  state: AccountState,
  n: number,
): AccountCommand | null => {
  if (s.kind === 'place') {
    const sign = s.side === 'BUY' ? 1 : -1;
    const price = PRICE - sign * s.offset * 10;
    return {
      type: 'PlaceOrder',
      orderId: `o${n}`,
      symbol: 'BTCUSDT',
      side: s.side,
      orderType: s.limit ? 'LIMIT' : 'MARKET',
      quantity: s.lots / 100,
      price: s.limit ? price : undefined,
      stopLoss: s.exits ? price - sign * 2000 : undefined,
      takeProfit: s.exits ? price + sign * 2000 : undefined,
      market: {
        lastPrice: new Decimal(PRICE),
        fresh: true,
        tradingPaused: false,
      },
      takerFeeRate: new Decimal('0.001'),
      slippageRate: new Decimal(0),
      defaultLeverage: 2,
      at: AT,
    };
  }
  const orders = [...state.openOrders.values()];
  if (orders.length === 0) return null;
  const order = orders[s.pick % orders.length];
  if (s.kind === 'cancel') {
    return {
      type: 'CancelOrder',
      orderId: order.orderId,
      reason: 'user',
      at: AT,
    };
  }
  const left = order.quantity.sub(order.filledQuantity);
  const quantity =
    s.part === 1 || left.lte('0.01')
      ? left
      : left.div(s.part).toDecimalPlaces(2);
  return {
    type: 'FillOrder',
    orderId: order.orderId,
    price: new Decimal(PRICE + s.move * 10),
    quantity,
    fee: new Decimal('0.01'),
    liquidity: 'maker',
    at: AT,
  };
};

describe('account totals kept beside the open orders (property)', () => {
  it('equal the totals summed from the open orders after every event', () => {
    const seen = { partial: 0, exits: 0, cancels: 0 };
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        let state = initialAccountState();
        for (const event of decide(
          {
            type: 'OpenAccount',
            accountId: 'main',
            initialBalance: new Decimal(100000),
            at: AT,
          },
          state,
        )) {
          state = evolve(state, event);
        }
        steps.forEach((s, n) => {
          const command = commandFor(s, state, n);
          if (!command) return;
          let events;
          try {
            events = decide(command, state);
          } catch (error) {
            if (error instanceof MiraiError) return;
            throw error;
          }
          for (const event of events) {
            const before = state;
            const keysBefore = [...before.openOrders.keys()];
            state = evolve(state, event);
            // The old state is a value: evolving it changed nothing in it.
            expect([...before.openOrders.keys()]).to.deep.equal(keysBefore);
            expectTotalsMatchOrders(state);
            if (
              event.type === 'OrderFilled' &&
              event.data.orderStatus === 'PARTIALLY_FILLED'
            )
              seen.partial++;
            if (event.type === 'OrderPlaced' && event.data.role !== 'entry')
              seen.exits++;
            if (event.type === 'OrderCancelled') seen.cancels++;
          }
        });
      }),
      { numRuns: 200 },
    );
    expect(seen.partial).to.be.above(0);
    expect(seen.exits).to.be.above(0);
    expect(seen.cancels).to.be.above(0);
  });
});
