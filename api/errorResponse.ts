import type { Response } from 'express';
import { ErrorCode, MiraiError } from '../domain/errors';
import { sendJson } from './sendJson';

/** HTTP status for each error code. */
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  INVALID_SYMBOL: 400,
  INSUFFICIENT_BALANCE: 400,
  INVALID_QUANTITY: 400,
  INVALID_PRICE: 400,
  INVALID_REQUEST: 400,
  MARKET_CLOSED: 503,
  SYSTEM_MAINTENANCE: 503,
  RATE_LIMITED: 429,
  ORDER_NOT_FOUND: 404,
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  CONFLICT: 409,
  INTERNAL_ERROR: 500,
};

/** The body of every error response, as the API document shows it. */
export const errorBody = (error: MiraiError, requestId?: string) => ({
  error: {
    code: error.code,
    message: error.message,
    details: requestId
      ? { ...error.details, request_id: requestId }
      : error.details,
    timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
  },
});

/** Sends `error` in the documented format with its status. */
export const sendError = (res: Response, error: MiraiError): void => {
  const requestId = res.locals.requestId as string | undefined;
  sendJson(res, errorBody(error, requestId), STATUS_BY_CODE[error.code]);
};
