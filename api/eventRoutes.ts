import { Router } from 'express';
import type { EventStore, RecordedEvent } from '../application/eventStore';
import { MiraiError } from '../domain/errors';

/** Events one page holds when the client names no `limit`. */
export const DEFAULT_EVENTS_PAGE = 100;

/** Most events one page may hold. */
export const MAX_EVENTS_PAGE = 1000;

// Global positions are 64-bit; anything longer cannot be one.
const MAX_POSITION = 2n ** 63n - 1n;
const QUERY_KEYS = new Set(['from', 'limit']);

const invalid = (message: string, details: Record<string, unknown> = {}) =>
  new MiraiError('INVALID_REQUEST', message, details);

/** `from`: a global position of at least 1, as decimal digits. */
const parseFrom = (raw: unknown): bigint => {
  if (raw === undefined) return 1n;
  const from =
    typeof raw === 'string' && /^\d{1,19}$/.test(raw) ? BigInt(raw) : 0n;
  if (from < 1n || from > MAX_POSITION) {
    throw invalid("'from' must be a global position from 1 up", { from: raw });
  }
  return from;
};

/** `limit`: a whole number from 1 to {@link MAX_EVENTS_PAGE}. */
const parseLimit = (raw: unknown): number => {
  if (raw === undefined) return DEFAULT_EVENTS_PAGE;
  const limit =
    typeof raw === 'string' && /^\d{1,7}$/.test(raw) ? Number(raw) : 0;
  if (limit < 1 || limit > MAX_EVENTS_PAGE) {
    throw invalid(
      `'limit' must be a whole number from 1 to ${MAX_EVENTS_PAGE}`,
      { limit: raw },
    );
  }
  return limit;
};

// Revisions and positions are bigints; JSON numbers lose precision past
// 2^53, so they travel as decimal strings.
const eventJson = (event: RecordedEvent) => ({
  stream_id: event.streamId,
  revision: event.revision.toString(),
  global_position: event.globalPosition.toString(),
  type: event.type,
  data: event.data,
  metadata: event.metadata,
  recorded_at: event.recordedAt,
});

/**
 * `GET /api/events?from=<position>&limit=<n>`: the raw global log in
 * position order, from `from` (inclusive, default 1) for up to `limit`
 * events (default 100, at most 1000). The next page starts one past the
 * last `global_position`. A bad or unknown query parameter is answered
 * 400 INVALID_REQUEST. Mount it behind `requireRole('auditor')`.
 */
export const eventRoutes = (store: EventStore): Router => {
  const router = Router();

  router.get('/', async (req, res, next) => {
    try {
      const unknown = Object.keys(req.query).filter((k) => !QUERY_KEYS.has(k));
      if (unknown.length > 0) {
        throw invalid('Unknown query parameter', {
          parameters: unknown.slice(0, 10),
        });
      }
      const fromPosition = parseFrom(req.query.from);
      const maxCount = parseLimit(req.query.limit);

      const events = await store.readAll({ fromPosition, maxCount });
      res.json({ events: events.map(eventJson) });
    } catch (error) {
      next(error);
    }
  });

  return router;
};
