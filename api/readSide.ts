import type { Request, RequestHandler } from 'express';
import type { EventStore } from '../application/eventStore';
import { MiraiError } from '../domain/errors';
import {
  QUERY_PROJECTIONS,
  QueryName,
  ReadModelQueries,
  ReadModelRuntime,
} from '../projections';
import type { QueryCache } from './queryCache';
import { sendJsonText } from './sendJson';

/** Header and query parameter a client uses to wait for its own writes. */
export const WAIT_FOR_HEADER = 'X-Mirai-Wait-For';
export const WAIT_FOR_PARAM = 'wait_for_position';
/** Set on a read served before the read models reached the store's head. */
export const STALE_HEADER = 'X-Mirai-Stale';

/** Longest wait for an explicit `wait_for_position`, ms. */
export const EXPLICIT_WAIT_MS = 5_000;
/** Longest wait for the store's head when the client names no position, ms. */
export const DEFAULT_WAIT_MS = 1_000;

/** What the read routes are given by the composition root. */
export interface ReadSide {
  store: EventStore;
  runtime: ReadModelRuntime;
  queries: ReadModelQueries;
  cache: QueryCache;
  /**
   * The head a read without `wait_for_position` waits for. Default the
   * store's `headPosition()`; a cheaper, in-memory head that covers every
   * write made through this process will do, since those are the writes a
   * client can have seen complete.
   */
  knownHead?: () => bigint;
  /** Longest wait for an explicit position, ms. Default `EXPLICIT_WAIT_MS`. */
  maxWaitMs?: number;
}

const POSITION_TEXT = /^\d{1,19}$/;

/** The position a request asks to wait for, or null when it names none. */
export const requestedPosition = (req: Request): bigint | null => {
  const fromQuery = req.query[WAIT_FOR_PARAM];
  const raw = fromQuery ?? req.get(WAIT_FOR_HEADER);
  if (raw === undefined) return null;
  if (typeof raw !== 'string' || !POSITION_TEXT.test(raw)) {
    throw new MiraiError(
      'INVALID_REQUEST',
      `'${WAIT_FOR_PARAM}' must be a global position (a whole number)`,
      { [WAIT_FOR_PARAM]: raw },
    );
  }
  return BigInt(raw);
};

/**
 * The cache key: the route's path and the query as express parsed it
 * (not the raw string: the parser keeps only the first 1,000 parameters,
 * and the key must name exactly what the handler saw), keys sorted,
 * without the wait parameter.
 */
const cacheKey = (req: Request): string => {
  const path = req.baseUrl + req.path;
  const query = Object.entries(req.query)
    .filter(([name]) => name !== WAIT_FOR_PARAM)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return query.length === 0 ? path : `${path}?${JSON.stringify(query)}`;
};

/**
 * An express handler serving one read-model query, consistently:
 *
 * 1. validate the request (`parse` throws `MiraiError`s);
 * 2. wait until the projections the query reads have reached the position
 *    the client asked for (≤ 5 s, else 503 `SYSTEM_MAINTENANCE`) or, when
 *    it asked for none, the store's head as of now (≤ 1 s, else serve what
 *    there is with `X-Mirai-Stale: true`);
 * 3. answer from the query cache, or compute, cache and answer. The
 *    `X-Mirai-Position` header tells the position the answer reflects.
 */
export const readHandler = <P>(
  read: ReadSide,
  query: QueryName,
  parse: (req: Request) => P,
  compute: (params: P) => unknown,
): RequestHandler => {
  const projections = QUERY_PROJECTIONS[query];
  return async (req, res, next) => {
    try {
      const params = parse(req);

      const wanted = requestedPosition(req);
      if (wanted !== null) {
        const waitMs = read.maxWaitMs ?? EXPLICIT_WAIT_MS;
        const reached = await read.runtime.waitFor(wanted, waitMs, projections);
        if (!reached) {
          throw new MiraiError(
            'SYSTEM_MAINTENANCE',
            `Read models did not reach position ${wanted} in time`,
            {
              [WAIT_FOR_PARAM]: wanted.toString(),
              reached: read.runtime.lowestCheckpoint(projections).toString(),
              waited_ms: waitMs,
            },
          );
        }
      } else {
        const head = read.knownHead
          ? read.knownHead()
          : await read.store.headPosition();
        const caughtUp =
          read.runtime.lowestCheckpoint(projections) >= head ||
          (await read.runtime.waitFor(head, DEFAULT_WAIT_MS, projections));
        if (!caughtUp) res.set(STALE_HEADER, 'true');
      }

      const key = cacheKey(req);
      let body = read.cache.get(key)?.body;
      const position = read.runtime.lowestCheckpoint(projections);
      if (body === undefined) {
        body = JSON.stringify(compute(params));
        read.cache.set(key, body, projections, position);
      }
      res.setHeader('X-Mirai-Position', position.toString());
      sendJsonText(res, body);
    } catch (error) {
      next(error);
    }
  };
};
