import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setupCheckpoints } from './checkpoints';
import type { ReadModelDb } from './projection';

/**
 * Opens the read-model database: a file (WAL; `synchronous=NORMAL`, since
 * a lost last batch is simply folded again from the event store) or
 * `:memory:` when the events themselves live in memory.
 *
 * Its `prepare` remembers each statement by its SQL text, so projections
 * and queries may call it on every batch or request without compiling
 * the SQL again. Every SQL text in the project is a fixed shape (values
 * are always bound, never spliced in), which keeps that memory small.
 */
export const openReadModelDb = (
  path: string,
  { busyTimeoutMs = 5_000 }: { busyTimeoutMs?: number } = {},
): ReadModelDb => {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  // Waits that long for another connection's write lock (a reader's
  // ad-hoc transaction, the rebuild command) before reporting it busy.
  const db = new Database(path, { timeout: busyTimeoutMs });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  rememberStatements(db);
  setupCheckpoints(db);
  return db;
};

const rememberStatements = (db: ReadModelDb): void => {
  const compile = db.prepare.bind(db);
  const statements = new Map<string, Database.Statement>();
  db.prepare = ((sql: string) => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = compile(sql);
      statements.set(sql, statement);
    }
    return statement;
  }) as typeof db.prepare;
};
