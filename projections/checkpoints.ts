import type { ReadModelDb } from './projection';

/**
 * The `projection_checkpoints` table: one row per projection with the
 * global position of the last event it committed.
 */
export const setupCheckpoints = (db: ReadModelDb): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL
  )`);
};

/** Reads a projection's checkpoint; 0n when it never committed. */
export const readCheckpoint = (db: ReadModelDb, name: string): bigint => {
  const row = db
    .prepare('SELECT position FROM projection_checkpoints WHERE name = ?')
    .safeIntegers(true)
    .get(name) as { position: bigint } | undefined;
  return row?.position ?? 0n;
};

/** Writes a checkpoint; call it inside the batch's transaction. */
export const writeCheckpoint = (
  db: ReadModelDb,
  name: string,
  position: bigint,
): void => {
  db.prepare(
    `INSERT INTO projection_checkpoints (name, position) VALUES (?, ?)
     ON CONFLICT(name) DO UPDATE SET position = excluded.position`,
  ).run(name, position);
};
