import { randomUUID } from 'node:crypto';
import express, {
  type ErrorRequestHandler,
  type RequestHandler,
} from 'express';
import { WrongExpectedVersionError } from '../application/eventStore';
import { MiraiError } from '../domain/errors';
import { sendError } from './errorResponse';

/** A function that writes one structured log line. */
type Log = (message: string, fields?: Record<string, unknown>) => void;

// A client's id is kept only when it cannot smuggle anything into logs.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives each request an id: the client's `X-Request-Id` when it is 1-128
 * letters, digits, `.`, `_`, `:` or `-`, else a random UUID. The id goes
 * to `res.locals.requestId`, the `X-Request-Id` response header and, via
 * `sendError`, every error body (`details.request_id`). Mount it first.
 */
export const requestId = (): RequestHandler => (req, res, next) => {
  // Node lowercases header names; req.get would do it again per call.
  const incoming = req.headers['x-request-id'];
  const id =
    typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming)
      ? incoming
      : randomUUID();
  res.locals.requestId = id;
  res.setHeader('X-Request-Id', id);
  next();
};

/**
 * Headers that tell browsers to treat every response as inert data: no
 * MIME sniffing, no framing, no referrer, a CSP that allows nothing (the
 * API serves JSON, never pages), and no `X-Powered-By`. Also call
 * `app.disable('x-powered-by')`; this removes it for apps that forget.
 */
export const securityHeaders = (): RequestHandler => (_req, res, next) => {
  res.removeHeader('X-Powered-By');
  // setHeader, not res.set: these run on every request, and res.set's
  // content-type handling is work for nothing here.
  for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
  next();
};

const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
];

/** Options of {@link cors}. */
export interface CorsOptions {
  /**
   * Origins (`https://dash.example.com`) whose browser pages may call the
   * API. Default none: browsers on other origins are refused.
   */
  readonly allowedOrigins?: readonly string[];
  /** How long a browser may cache a preflight, in seconds; default 600. */
  readonly maxAgeSeconds?: number;
}

/**
 * Cross-origin access for the listed origins only. A request from one of
 * them gets `Access-Control-Allow-Origin` naming it; its preflight
 * (`OPTIONS` with `Access-Control-Request-Method`) is answered 204 here.
 * Other origins get no CORS headers, so their browsers block the result.
 */
export const cors = ({
  allowedOrigins = [],
  maxAgeSeconds = 600,
}: CorsOptions = {}): RequestHandler => {
  const allowed = new Set(allowedOrigins);
  // With no origin allowed, every answer is the same whatever the Origin:
  // nothing to add, not even Vary.
  if (allowed.size === 0) return (_req, _res, next) => next();
  return (req, res, next) => {
    const origin = req.headers.origin;
    // Nothing before this sets Vary; res.vary would parse it every time.
    if (res.hasHeader('Vary')) res.vary('Origin');
    else res.setHeader('Vary', 'Origin');
    if (!origin || !allowed.has(origin)) return next();

    res.set({
      'Access-Control-Allow-Origin': origin,
      'Access-Control-Expose-Headers':
        'X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, ' +
        'X-RateLimit-Reset, Retry-After, X-Mirai-Position, ' +
        'X-Mirai-Stale, Idempotent-Replayed',
    });
    if (req.method !== 'OPTIONS' || !req.get('Access-Control-Request-Method')) {
      return next();
    }
    res.set({
      'Access-Control-Allow-Methods': 'GET, POST, PUT, PATCH, DELETE',
      'Access-Control-Allow-Headers':
        'Authorization, Content-Type, X-Request-Id, Idempotency-Key, ' +
        'X-Mirai-Wait-For',
      'Access-Control-Max-Age': String(maxAgeSeconds),
    });
    res.status(204).end();
  };
};

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Answers 415 UNSUPPORTED_MEDIA_TYPE to a POST, PUT or PATCH whose body
 * is not `application/json` (a charset parameter is fine). A request
 * without a body, or with an empty one and no content type, passes.
 */
export const requireJsonContentType = (): RequestHandler => {
  return (req, res, next) => {
    // req.is gives null when there is no body, false on another type.
    // An empty, untyped body (`Content-Length: 0`, as fetch sends for a
    // bare POST) is no body.
    const emptyUntyped =
      req.headers['content-length'] === '0' && !req.headers['content-type'];
    if (!BODY_METHODS.has(req.method) || emptyUntyped) return next();
    const type = req.headers['content-type'];
    // The common spelling needs no parsing.
    if (type === 'application/json') return next();
    if (req.is('application/json') === false) {
      return sendError(
        res,
        new MiraiError(
          'UNSUPPORTED_MEDIA_TYPE',
          'Request body must be application/json',
        ),
      );
    }
    // JSON is UTF-8 (RFC 8259); a body declared as another charset would
    // be decoded as that and fail as JSON, which hides the real mistake.
    const charset = CHARSET.exec(req.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && charset.toLowerCase() !== 'utf-8') {
      return sendError(
        res,
        new MiraiError(
          'UNSUPPORTED_MEDIA_TYPE',
          `JSON bodies must be UTF-8, not ${charset}`,
        ),
      );
    }
    next();
  };
};

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

/**
 * Says which of the two ways a body failed: JSON that is not an object or
 * array, or text that is not JSON at all (and where it stops being JSON).
 */
const parseError = (body: unknown, message = ''): MiraiError => {
  const text = typeof body === 'string' ? body.trimStart() : '';
  const first = text[0];
  if (first !== undefined && first !== '{' && first !== '[') {
    try {
      JSON.parse(text);
      return new MiraiError(
        'INVALID_REQUEST',
        'Request body must be a JSON object or array',
      );
    } catch {
      // not JSON at all: said below
    }
  }
  const at = /at position (\d+)/.exec(message)?.[1];
  if (at !== undefined) {
    const what = message
      .replace(/ at position \d+$/, '')
      .replace(/ in JSON$/, '');
    return new MiraiError(
      'INVALID_REQUEST',
      `Request body is not valid JSON: ${what} at character ${at}`,
      { position: Number(at) },
    );
  }
  return new MiraiError(
    'INVALID_REQUEST',
    /end of JSON/.test(message)
      ? 'Request body is not valid JSON: it ends too soon'
      : 'Request body is not valid JSON',
  );
};

/** Default largest JSON body accepted, as a byte string: `100kb`. */
export const DEFAULT_BODY_LIMIT = '100kb';

// body-parser tags its errors with a type; map each to a documented code.
const bodyError = (error: {
  type?: string;
  status?: number;
  body?: unknown;
  message?: string;
}) => {
  switch (error.type) {
    case 'entity.too.large':
      return new MiraiError('PAYLOAD_TOO_LARGE', 'Request body is too large');
    case 'entity.parse.failed':
      return parseError(error.body, error.message);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new MiraiError(
        'UNSUPPORTED_MEDIA_TYPE',
        'Request body encoding or charset is not supported',
      );
    default:
      return error.status && error.status >= 400 && error.status < 500
        ? new MiraiError('INVALID_REQUEST', 'Malformed request')
        : undefined;
  }
};

/**
 * Parses `application/json` bodies of up to `limit` (bytes or a string
 * like `100kb`; default {@link DEFAULT_BODY_LIMIT}) into `req.body`. Only
 * an object or array is accepted. Too large → 413 PAYLOAD_TOO_LARGE; not
 * JSON → 400 INVALID_REQUEST.
 */
export const jsonBody = ({
  limit = DEFAULT_BODY_LIMIT,
}: { readonly limit?: number | string } = {}): RequestHandler => {
  const parse = express.json({ limit, strict: true, type: 'application/json' });
  return (req, res, next) => {
    // Reads carry no body worth reading; the router ignores one if sent.
    if (!BODY_METHODS.has(req.method)) return next();
    parse(req, res, (error?: unknown) => {
      if (!error) return next();
      // The client went away mid-body: no one is left to answer, and an
      // answer would be counted as a 400 sent. Metrics count it as 499.
      if ((error as { type?: string }).type === 'request.aborted') {
        res.destroy();
        return;
      }
      const mapped = bodyError(error as { type?: string; status?: number });
      return mapped ? sendError(res, mapped) : next(error);
    });
  };
};

/** Answers 404 NOT_FOUND; mount it after every route. */
export const notFound = (): RequestHandler => (_req, res) =>
  sendError(res, new MiraiError('NOT_FOUND', 'Route not found'));

/**
 * The last handler: a MiraiError is sent as is; a client error express
 * raised itself (a malformed URL, a body error) becomes 400 or its
 * mapped code; anything else becomes 500 INTERNAL_ERROR. Responses never
 * carry a stack trace or an internal message; the request id in the body
 * ties a 500 to the server log line, which holds the stack.
 */
export const errorHandler = ({
  log = (message, fields) =>
    console.error(JSON.stringify({ message, ...fields })),
}: { readonly log?: Log } = {}): ErrorRequestHandler => {
  return (error: unknown, req, res, _next) => {
    const requestId = res.locals.requestId as string | undefined;
    const known =
      error instanceof MiraiError
        ? error
        : error instanceof WrongExpectedVersionError
          ? // Another writer (a second server on the same files) got
            // there first; this engine reloads before its next command.
            new MiraiError(
              'CONFLICT',
              `Stream '${error.streamId}' was changed by another writer; ` +
                'retry the request',
              { stream: error.streamId },
            )
          : bodyError((error ?? {}) as { type?: string; status?: number });

    if (!known) {
      const { name, message, stack } =
        error instanceof Error ? error : new Error(String(error));
      log('request failed', {
        request_id: requestId,
        method: req.method,
        path: req.path,
        error: name,
        error_message: message,
        stack,
      });
    }

    // Once headers went out, a clean error body is impossible; cutting
    // the connection tells the client the response is incomplete.
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendError(
      res,
      known ?? new MiraiError('INTERNAL_ERROR', 'Internal server error'),
    );
  };
};
