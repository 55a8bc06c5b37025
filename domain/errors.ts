/**
 * Every error the system reports to a user carries one of these codes.
 * The first six come from the API document; the rest name the other
 * failures a serious API has to tell apart.
 */
export type ErrorCode =
  | 'INVALID_SYMBOL'
  | 'INSUFFICIENT_BALANCE'
  | 'INVALID_QUANTITY'
  | 'MARKET_CLOSED'
  | 'RATE_LIMITED'
  | 'SYSTEM_MAINTENANCE'
  | 'INVALID_PRICE'
  | 'INVALID_REQUEST'
  | 'ORDER_NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'CONFLICT'
  | 'INTERNAL_ERROR';

/** The one error family of Mirai: a spec error code plus details. */
export class MiraiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'MiraiError';
  }
}
