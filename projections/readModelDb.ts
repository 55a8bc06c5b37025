import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setupCheckpoints } from './checkpoints';
import type { ReadModelDb } from './projection';

/**
 * Opens the read-model database: a file (WAL; `synchronous=NORMAL`, since
 * a lost last batch is simply folded again from the event store) or
 * `:memory:` when the events themselves live in memory.
 */
export const openReadModelDb = (path: string): ReadModelDb => {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  setupCheckpoints(db);
  return db;
};
