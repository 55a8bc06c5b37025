import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Request, RequestHandler, Response } from 'express';
import { MiraiError } from '../domain/errors';
import { sendError } from './errorResponse';

/** The spec's classes of endpoint, each with its own allowance. */
export type RateLimitTier = 'public' | 'trading' | 'bulk';

/** Requests per window (one minute) for each tier, as the spec sets. */
export const DEFAULT_RATE_LIMITS: Readonly<Record<RateLimitTier, number>> = {
  public: 100,
  trading: 50,
  bulk: 10,
};

/** WebSocket connections one address may hold at once, as the spec sets. */
export const DEFAULT_WS_CONNECTIONS_PER_IP = 10;

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Routes that move many records or much work per request: pages of up to
 * 1,000 raw events, and cache invalidation, which makes the next reads
 * recompute. They share the spec's `bulk` allowance.
 */
const BULK_ROUTES = ['/api/events', '/api/performance/cache/invalidate'];

/**
 * The default tier of a request: the bulk routes above are `bulk`; writes
 * under `/api/trading` (placing and cancelling orders, strategy changes)
 * are `trading`; everything else is `public`. Paths are compared the way
 * express routes them (the URL's path, whatever its form; any case;
 * trailing slash ignored), so neither `/API/Trading/order/` nor
 * `http://host/api/trading/order` nor `/api/events#x` can slip into a
 * looser tier.
 */
export const defaultTierFor = (req: Request): RateLimitTier => {
  // req.path is the pathname express routes by, as parsed from any form
  // of request target (absolute URL, fragment, query).
  const path = req.path.toLowerCase().replace(/\/+$/, '');
  if (BULK_ROUTES.includes(path)) return 'bulk';
  const trading = path === '/api/trading' || path.startsWith('/api/trading/');
  return trading && !READ_METHODS.has(req.method) ? 'trading' : 'public';
};

const stripMappedPrefix = (address: string) =>
  address.startsWith('::ffff:') && isIP(address.slice(7)) === 4
    ? address.slice(7)
    : address;

/**
 * The address of the client behind a request.
 *
 * With `trustProxy` false (the default) it is the socket's peer and
 * `X-Forwarded-For` is ignored, since any client can write that header.
 * With `trustProxy` true (one proxy) or a number n of proxies in front of
 * Mirai, it is the n-th address from the right of `X-Forwarded-For` plus
 * the peer: the right-most address no trusted proxy wrote. The left-most
 * entries are whatever the client claimed and are never used. A non-IP
 * entry at that place falls back to the peer address.
 */
export const clientAddress = (
  req: IncomingMessage,
  trustProxy: boolean | number = false,
): string => {
  const peer = stripMappedPrefix(req.socket.remoteAddress ?? 'unknown');
  const hops = trustProxy === true ? 1 : trustProxy === false ? 0 : trustProxy;
  if (hops <= 0) return peer;

  const header = req.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const chain = [...forwarded, peer];
  const index = Math.max(0, chain.length - 1 - hops);
  const candidate = stripMappedPrefix(chain[index]);
  return isIP(candidate) ? candidate : peer;
};

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Requests per window per tier; defaults {@link DEFAULT_RATE_LIMITS}. */
  readonly limits?: Partial<Record<RateLimitTier, number>>;
  /** Window length in milliseconds; default 60 000. */
  readonly windowMs?: number;
  /** Current time in Unix milliseconds; default the system clock. */
  readonly now?: () => number;
  /** Proxies in front of Mirai; default false. See {@link clientAddress}. */
  readonly trustProxy?: boolean | number;
  /**
   * The username a request is counted under, or undefined for its
   * address. Default: `res.locals.user` as set by `authenticate`, which
   * only works when the limiter runs after it; to limit before
   * authentication, pass `(req) => userFromRequest(tokens, req)?.username`.
   */
  readonly identify?: (req: Request, res: Response) => string | undefined;
  /** Which tier a request falls in; default {@link defaultTierFor}. */
  readonly tierFor?: (req: Request) => RateLimitTier;
  /**
   * Most client windows held at once; default 100 000 (a few MB). Past it
   * the oldest window is forgotten, which gives that client a fresh
   * allowance early rather than letting memory grow.
   */
  readonly maxClients?: number;
}

/** A limiter's middleware and what it holds. */
export interface RateLimiter {
  /** Counts the request, sets the headers, and answers 429 past the limit. */
  readonly middleware: RequestHandler;
  /** The limits in force, defaults filled in. */
  readonly limits: Readonly<Record<RateLimitTier, number>>;
  /** Client windows held now. */
  clients(): number;
}

interface Window {
  count: number;
  /** Unix milliseconds at which the window ends. */
  resetAt: number;
}

/**
 * A fixed-window rate limiter: a client's window opens with its first
 * request and lasts `windowMs`; each tier counts separately. A client is
 * `user:<name>` when identified, else `ip:<address>`. Every response gets
 * `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
 * (Unix seconds when the window ends); a request past the limit gets 429
 * RATE_LIMITED with `Retry-After` in seconds. A fixed window lets a client
 * send up to twice the limit across a window boundary; that is the price
 * of O(1) memory per client. Counts live in this process only, so
 * several instances each allow the full rate.
 */
export const createRateLimiter = ({
  limits: overrides = {},
  windowMs = 60_000,
  now = Date.now,
  trustProxy = false,
  identify = (_req, res) => res.locals.user?.username,
  tierFor = defaultTierFor,
  maxClients = 100_000,
}: RateLimiterOptions = {}): RateLimiter => {
  const limits = { ...DEFAULT_RATE_LIMITS, ...overrides };

  // Windows all last windowMs and a renewed one is re-inserted, so Map
  // order is the order of resetAt: expired windows are always in front.
  const windows = new Map<string, Window>();

  const evictExpired = (time: number) => {
    for (const [key, window] of windows) {
      if (window.resetAt > time) break;
      windows.delete(key);
    }
  };

  const windowFor = (key: string, time: number): Window => {
    const existing = windows.get(key);
    if (existing) return existing;
    if (windows.size >= maxClients) {
      windows.delete(windows.keys().next().value as string);
    }
    const fresh = { count: 0, resetAt: time + windowMs };
    windows.set(key, fresh);
    return fresh;
  };

  const middleware: RequestHandler = (req, res, next) => {
    const time = now();
    evictExpired(time);

    const tier = tierFor(req);
    const limit = limits[tier];
    const username = identify(req, res);
    const client = username
      ? `user:${username}`
      : `ip:${clientAddress(req, trustProxy)}`;
    const window = windowFor(`${tier}|${client}`, time);
    window.count += 1;

    res.setHeader('X-RateLimit-Limit', String(limit));
    res.setHeader(
      'X-RateLimit-Remaining',
      String(Math.max(0, limit - window.count)),
    );
    res.setHeader(
      'X-RateLimit-Reset',
      String(Math.ceil(window.resetAt / 1000)),
    );
    if (window.count <= limit) return next();

    const retryAfter = Math.max(1, Math.ceil((window.resetAt - time) / 1000));
    res.set('Retry-After', String(retryAfter));
    sendError(
      res,
      new MiraiError('RATE_LIMITED', 'Too many requests', {
        tier,
        limit,
        retry_after_seconds: retryAfter,
      }),
    );
  };

  return { middleware, limits, clients: () => windows.size };
};

/** Hands back a connection slot; calling it again does nothing. */
export type ReleaseConnection = () => void;

/** Counts open WebSocket connections per client address. */
export interface ConnectionLimiter {
  /** A slot for `address`, or undefined when it holds the maximum. */
  tryAcquire(address: string): ReleaseConnection | undefined;
  /** Connections `address` holds now. */
  count(address: string): number;
}

/**
 * Caps open WebSocket connections per address; default
 * {@link DEFAULT_WS_CONNECTIONS_PER_IP}. Acquire in the upgrade handler
 * (address from {@link clientAddress}), refuse the upgrade with 429 when
 * no slot is left, and release on the socket's `close`.
 */
export const createConnectionLimiter = ({
  maxPerIp = DEFAULT_WS_CONNECTIONS_PER_IP,
}: { readonly maxPerIp?: number } = {}): ConnectionLimiter => {
  const open = new Map<string, number>();
  const count = (address: string) => open.get(address) ?? 0;

  return {
    count,
    tryAcquire(address) {
      if (count(address) >= maxPerIp) return undefined;
      open.set(address, count(address) + 1);

      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = count(address) - 1;
        if (left > 0) open.set(address, left);
        else open.delete(address);
      };
    },
  };
};
