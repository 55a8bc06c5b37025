import { from, mergeMap } from 'rxjs';
import type { EventStore, RecordedEvent } from '../../application/eventStore';
import type { ReadModelDb } from '../../projections';

/**
 * Every read-model table of `db` as sorted JSON rows, checkpoints
 * included: two databases with equal snapshots hold equal read models.
 */
export const snapshot = (db: ReadModelDb): Record<string, string[]> => {
  const tables = db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    )
    .all() as { name: string }[];
  const result: Record<string, string[]> = {};
  for (const { name } of tables) {
    const rows = db.prepare(`SELECT * FROM "${name}"`).safeIntegers(true).all();
    result[name] = rows
      .map((row) =>
        JSON.stringify(row, (_k, v) =>
          typeof v === 'bigint' ? v.toString() : v,
        ),
      )
      .sort();
  }
  return result;
};

/**
 * The same store, except that `subscribeAll` delivers every event twice
 * and, after every third event, once more the event two before it: what
 * an at-least-once transport may do.
 */
export const duplicatingStore = (store: EventStore): EventStore => ({
  append: (...args) => store.append(...args),
  readStream: (...args) => store.readStream(...args),
  readAll: (...args) => store.readAll(...args),
  headPosition: () => store.headPosition(),
  close: () => store.close(),
  subscribeAll: (options) => {
    const recent: RecordedEvent[] = [];
    return store.subscribeAll(options).pipe(
      mergeMap((event) => {
        recent.push(event);
        const out = [event, event];
        if (recent.length % 3 === 0 && recent.length >= 3) {
          out.push(recent[recent.length - 3]);
        }
        return from(out);
      }),
    );
  },
});
