import type { EventStore } from '../application/eventStore';
import { writeCheckpoint } from './checkpoints';
import type { Projection, ReadModelDb } from './projection';
import type { ProjectionLog } from './projectionRuntime';

/** Options of `replayFromZero`. */
export interface ReplayOptions {
  /** Events read, folded and committed per step. Default 10,000. */
  pageSize?: number;
  log?: ProjectionLog;
}

/** What `replayFromZero` did. */
export interface ReplayResult {
  events: number;
  /** Position of the last event replayed; 0n for an empty store. */
  head: bigint;
  /** Projections that threw, with the event they threw on. */
  failed: { name: string; globalPosition: bigint; type: string }[];
}

/**
 * Rebuilds `projections` from position 1 with one pass over the log, for
 * the `mirai rebuild` command and benchmarks: read models are emptied,
 * then each page is folded into every projection and committed with the
 * checkpoints in one transaction. Run it while no server folds the same
 * read-model database.
 */
export const replayFromZero = async (
  store: EventStore,
  db: ReadModelDb,
  projections: Projection[],
  options: ReplayOptions = {},
): Promise<ReplayResult> => {
  const pageSize = options.pageSize ?? 10_000;
  const result: ReplayResult = { events: 0, head: 0n, failed: [] };
  for (const projection of projections) projection.setup(db);
  db.transaction(() => {
    for (const projection of projections) {
      projection.reset(db);
      writeCheckpoint(db, projection.name, 0n);
    }
  })();
  for (const projection of projections) projection.load(db);

  let live = [...projections];
  let next = 1n;
  for (;;) {
    const page = await store.readAll({
      fromPosition: next,
      maxCount: pageSize,
    });
    if (page.length === 0) break;
    for (const projection of live) {
      for (const event of page) {
        try {
          projection.fold(event);
        } catch (error) {
          const message =
            error instanceof Error ? error.message : String(error);
          options.log?.error(
            `projection ${projection.name} stopped at event ` +
              `${event.globalPosition} (${event.type}): ${message}`,
          );
          result.failed.push({
            name: projection.name,
            globalPosition: event.globalPosition,
            type: event.type,
          });
          projection.load(db);
          break;
        }
      }
    }
    live = live.filter((p) => !result.failed.some((f) => f.name === p.name));
    for (const projection of live) await projection.beforeCommit?.();
    const lastEvent = page[page.length - 1];
    const last = lastEvent.globalPosition;
    db.transaction(() => {
      for (const projection of live) {
        projection.flush(db);
        writeCheckpoint(db, projection.name, last, lastEvent);
      }
    })();
    result.events += page.length;
    result.head = last;
    next = last + 1n;
  }
  return result;
};
