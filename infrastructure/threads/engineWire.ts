/**
 * How the engine's arguments and answers cross between threads. Messages
 * between threads are structured clones: plain data survives, class
 * instances do not, so decimals travel as their text and errors as their
 * fields, and each side rebuilds what the other sent.
 */
import {
  WrongExpectedVersionError,
  type ExpectedRevision,
} from '../../application/eventStore';
import type { OrderOutcome } from '../../application/tradingEngine';
import type { OpenOrder } from '../../domain/account';
import { type ErrorCode, MiraiError } from '../../domain/errors';
import { Decimal } from '../../domain/money';

/** An order outcome with its decimals as text. */
export type WireOutcome = Omit<
  OrderOutcome,
  'executedPrice' | 'executedQuantity'
> & { executedPrice: string | null; executedQuantity: string };

export const outcomeToWire = (outcome: OrderOutcome): WireOutcome =>
  Object.assign({}, outcome, {
    executedPrice: outcome.executedPrice?.toFixed() ?? null,
    executedQuantity: outcome.executedQuantity.toFixed(),
  });

export const outcomeFromWire = (wire: WireOutcome): OrderOutcome =>
  Object.assign({}, wire, {
    executedPrice:
      wire.executedPrice === null ? null : new Decimal(wire.executedPrice),
    executedQuantity: new Decimal(wire.executedQuantity),
  });

/** The decimal fields of an open order. */
const ORDER_DECIMALS = [
  'quantity',
  'filledQuantity',
  'price',
  'triggerPrice',
  'stopLoss',
  'takeProfit',
  'reservedMargin',
] as const;

type WireOpenOrder = Record<string, unknown>;

export const openOrderToWire = (order: OpenOrder): WireOpenOrder => {
  const wire: WireOpenOrder = { ...order };
  for (const field of ORDER_DECIMALS)
    wire[field] = order[field]?.toFixed() ?? null;
  return wire;
};

export const openOrderFromWire = (wire: WireOpenOrder): OpenOrder => {
  const order = { ...wire };
  for (const field of ORDER_DECIMALS) {
    const text = wire[field];
    order[field] = typeof text === 'string' ? new Decimal(text) : null;
  }
  return order as unknown as OpenOrder;
};

/** An error as fields: what a thread can send of it. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: ErrorCode;
  details?: Record<string, unknown>;
  streamId?: string;
  expected?: ExpectedRevision;
  actual?: bigint | 'no_stream';
}

export const errorToWire = (error: unknown): WireError => {
  if (error instanceof MiraiError) {
    return {
      name: error.name,
      message: error.message,
      code: error.code,
      // Details go into error bodies: sent as the JSON they will become,
      // 64-bit numbers as strings (a throw here would leave the command
      // unanswered).
      details: JSON.parse(
        JSON.stringify(error.details, (_key, value: unknown) =>
          typeof value === 'bigint' ? value.toString() : value,
        ),
      ),
    };
  }
  if (error instanceof WrongExpectedVersionError) {
    return {
      name: error.name,
      message: error.message,
      streamId: error.streamId,
      expected: error.expected,
      actual: error.actual,
    };
  }
  const { name, message, stack } =
    error instanceof Error ? error : new Error(String(error));
  return { name, message, stack };
};

/** The error again, of the class the API maps to a status and code. */
export const errorFromWire = (wire: WireError): Error => {
  if (wire.code !== undefined) {
    return new MiraiError(wire.code, wire.message, wire.details);
  }
  if (wire.streamId !== undefined) {
    return new WrongExpectedVersionError(
      wire.streamId,
      wire.expected!,
      wire.actual!,
    );
  }
  const error = new Error(wire.message);
  error.name = wire.name;
  if (wire.stack) error.stack = wire.stack;
  return error;
};
