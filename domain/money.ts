import Decimal from 'decimal.js';

// Plain notation for every magnitude a price or fee can take, so that
// `toString()` never writes "1e-8" into an event or a response.
Decimal.set({ precision: 40, toExpNeg: -40, toExpPos: 40 });

export { Decimal };

/** Digits allowed in a decimal string: optional sign, digits, optional fraction. */
const DECIMAL_TEXT = /^-?(0|[1-9]\d{0,29})(\.\d{1,30})?$/;

/**
 * Reads a price or quantity from user input without going through binary
 * floating point arithmetic. Accepts a finite JSON number (whose shortest
 * round-trip text is what the user wrote) or a plain decimal string.
 * Returns `null` for anything else.
 */
export const parseDecimal = (value: unknown): Decimal | null => {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? new Decimal(String(value)) : null;
  }
  if (typeof value === 'string' && DECIMAL_TEXT.test(value)) {
    return new Decimal(value);
  }
  return null;
};

/** True when `value` is a whole number of `step`s (exact, in decimal). */
export const isMultipleOf = (value: Decimal, step: Decimal): boolean =>
  value.mod(step).isZero();

/** Rounds money to the 8 decimal places USDT balances carry. */
export const roundMoney = (value: Decimal): Decimal =>
  value.toDecimalPlaces(8, Decimal.ROUND_HALF_EVEN);

/** Decimal string for events: plain notation, no trailing exponent. */
export const toText = (value: Decimal): string => value.toFixed();

export const ZERO = new Decimal(0);

const slippageFactors = new WeakMap<Decimal, { BUY: Decimal; SELL: Decimal }>();

/**
 * What a price is multiplied by when a taker order slips by `rate`
 * against it: 1 + rate for a buy, 1 − rate for a sell. Worked out once
 * per rate (the configured one, every order).
 */
export const slippageFactor = (
  side: 'BUY' | 'SELL',
  rate: Decimal,
): Decimal => {
  let factors = slippageFactors.get(rate);
  if (!factors) {
    factors = { BUY: Decimal.add(1, rate), SELL: Decimal.sub(1, rate) };
    slippageFactors.set(rate, factors);
  }
  return factors[side];
};
