import type { RecordedEvent } from '../application/eventStore';
import type { ReadModelDb } from './projection';

/**
 * The `projection_checkpoints` table: one row per projection with the
 * global position of the last event it committed, and that event's
 * identity (`eventIdentity`), by which a start can tell that the event
 * log under a read model is still the one it was folded from.
 */
export const setupCheckpoints = (db: ReadModelDb): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    event_id TEXT
  )`);
  // Files made before the identity was kept: add the column, empty.
  const columns = db
    .prepare('PRAGMA table_info(projection_checkpoints)')
    .all() as { name: string }[];
  if (!columns.some((column) => column.name === 'event_id')) {
    db.exec('ALTER TABLE projection_checkpoints ADD COLUMN event_id TEXT');
  }
};

/**
 * What tells one recorded event from any other event, in this log or
 * another: its stream, revision and the time the store recorded it.
 */
export const eventIdentity = (event: RecordedEvent): string =>
  `${event.streamId}@${event.revision}@${event.recordedAt}`;

/** Reads a projection's checkpoint; 0n when it never committed. */
export const readCheckpoint = (db: ReadModelDb, name: string): bigint =>
  readCheckpointRow(db, name)?.position ?? 0n;

/** The identity of the event at a projection's checkpoint, if known. */
export const readCheckpointEvent = (
  db: ReadModelDb,
  name: string,
): string | null => readCheckpointRow(db, name)?.event_id ?? null;

const readCheckpointRow = (db: ReadModelDb, name: string) =>
  db
    .prepare(
      'SELECT position, event_id FROM projection_checkpoints WHERE name = ?',
    )
    .safeIntegers(true)
    .get(name) as { position: bigint; event_id: string | null } | undefined;

/**
 * Writes a checkpoint: `event` is the event at that position (none for a
 * reset to 0). Call it inside the batch's transaction.
 */
export const writeCheckpoint = (
  db: ReadModelDb,
  name: string,
  position: bigint,
  event?: RecordedEvent,
): void => {
  db.prepare(
    `INSERT INTO projection_checkpoints (name, position, event_id)
     VALUES (?, ?, ?)
     ON CONFLICT(name) DO UPDATE SET
       position = excluded.position, event_id = excluded.event_id`,
  ).run(name, position, event ? eventIdentity(event) : null);
};
