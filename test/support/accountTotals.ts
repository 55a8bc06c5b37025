import { expect } from 'chai';
import {
  AccountState,
  availableBalance,
  claimKey,
  positionMargin,
} from '../../domain/account';
import { Decimal } from '../../domain/money';

/**
 * The totals an account keeps beside its open orders (reserved margin,
 * entry claims, open exits) equal the same figures summed from the orders
 * the slow way, and the available balance follows from them.
 */
export const expectTotalsMatchOrders = (state: AccountState): void => {
  const orders = [...state.openOrders.values()];
  const reserved = orders.reduce(
    (sum, o) => sum.add(o.reservedMargin),
    new Decimal(0),
  );
  // Partial fills divide margin, so allow for rounding at 40 digits.
  expect(
    state.reservedMargin.sub(reserved).abs().lt('1e-20'),
    `kept ${state.reservedMargin}, summed ${reserved}`,
  ).to.equal(true);
  let used = reserved;
  for (const p of state.positions.values()) used = used.add(positionMargin(p));
  expect(
    availableBalance(state)
      .sub(state.walletBalance.sub(used))
      .abs()
      .lt('1e-20'),
  ).to.equal(true);

  const claims = new Map<string, Decimal>();
  for (const o of orders.filter((o) => o.role === 'entry')) {
    const key = claimKey(o.symbol, o.side);
    const left = o.quantity.sub(o.filledQuantity);
    claims.set(key, (claims.get(key) ?? new Decimal(0)).add(left));
  }
  const text = (m: ReadonlyMap<string, Decimal>) =>
    [...m]
      .filter(([, v]) => !v.isZero())
      .map(([k, v]) => `${k}=${v.toFixed()}`)
      .sort();
  expect(text(state.entryClaims), 'entry claims').to.deep.equal(text(claims));
  expect([...state.openExits.keys()]).to.deep.equal(
    orders.filter((o) => o.role !== 'entry').map((o) => o.orderId),
  );
};
