import Ajv, { ErrorObject } from 'ajv';
import { MiraiError } from '../domain/errors';
import { SUPPORTED_SYMBOLS } from '../domain/market/symbols';
import { fieldProblems } from './schemaErrors';

const price = { type: ['number', 'null'] };

/**
 * `POST /api/trading/order` body. Shape only: whether the symbol exists
 * and the numbers fit the symbol's rules is the decider's call, so that
 * such rejections are recorded as events.
 */
export const ORDER_SCHEMA = {
  type: 'object',
  required: ['symbol', 'side', 'type', 'quantity'],
  additionalProperties: false,
  properties: {
    symbol: { type: 'string', minLength: 1, maxLength: 32 },
    side: { enum: ['BUY', 'SELL'] },
    type: { enum: ['MARKET', 'LIMIT'] },
    quantity: { type: 'number' },
    price,
    stop_loss: price,
    take_profit: price,
    leverage: { type: 'integer', minimum: 1, maximum: 125 },
    strategy: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
  },
} as const;

export interface OrderBody {
  symbol: string;
  side: 'BUY' | 'SELL';
  type: 'MARKET' | 'LIMIT';
  quantity: number;
  price?: number | null;
  stop_loss?: number | null;
  take_profit?: number | null;
  leverage?: number;
  strategy?: string;
}

const ajv = new Ajv({ allErrors: true });
export const validateOrderBody = ajv.compile<OrderBody>(ORDER_SCHEMA);

/** The error code a client most needs for the first broken field. */
const codeFor = (field: string) => {
  if (field === 'symbol') return 'INVALID_SYMBOL' as const;
  if (field === 'quantity') return 'INVALID_QUANTITY' as const;
  if (['price', 'stop_loss', 'take_profit'].includes(field)) {
    return 'INVALID_PRICE' as const;
  }
  return 'INVALID_REQUEST' as const;
};

/** Turns ajv's errors into one documented error listing every field. */
export const orderBodyError = (errors: ErrorObject[] | null | undefined) => {
  const problems = fieldProblems(errors);
  const first = problems[0] ?? { field: '', problem: 'is invalid' };
  const subject = first.field ? `'${first.field}'` : 'Order body';
  const code = codeFor(first.field);
  return new MiraiError(code, `${subject} ${first.problem}`, {
    errors: problems,
    // As the decider's INVALID_SYMBOL says it.
    ...(code === 'INVALID_SYMBOL' && { supported_symbols: SUPPORTED_SYMBOLS }),
  });
};
