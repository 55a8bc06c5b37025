import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { MiraiError } from '../domain/errors';

/** Held while a process owns a data folder; see {@link lockDataDir}. */
export interface DataDirLock {
  readonly file: string;
  /** Gives the folder up; does nothing the second time. */
  release(): void;
}

/** Another process (or this one) already holds the folder. */
export class DataDirInUseError extends MiraiError {
  constructor(
    readonly file: string,
    readonly holder: string,
  ) {
    super(
      'CONFLICT',
      `data folder is in use by ${holder} (lock ${file}); stop it first`,
      { lock: file, holder },
    );
    this.name = 'DataDirInUseError';
  }
}

const LOCK_FILE = 'mirai.lock';
/** Who holds the lock, for the message a refused process prints. */
const HOLDER_FILE = 'mirai.lock.json';

const holderOf = (dir: string): string => {
  try {
    const { pid, host, since } = JSON.parse(
      readFileSync(path.join(dir, HOLDER_FILE), 'utf8'),
    ) as { pid: number; host: string; since: string };
    return `process ${pid} on ${host} since ${since}`;
  } catch {
    return 'another process';
  }
};

const isBusy = (error: unknown) =>
  (error as { code?: string }).code === 'SQLITE_BUSY';

/**
 * Makes this process the only one writing to `dir`: one engine per
 * account stream is what keeps its decisions and its hash chain sound.
 * Two engines appending to one stream can each pipeline appends that a
 * revision check alone does not stop (the other one may have moved the
 * stream to exactly the revision expected), so a second server, or a
 * rebuild while one runs, is refused with {@link DataDirInUseError}.
 *
 * The lock is SQLite's own exclusive lock on `mirai.lock`, held by an open
 * connection: the operating system drops it when the process ends, however
 * it ends, so there is no stale lock to detect and no race in taking one
 * over. `mirai.lock.json` says who holds it, for the message.
 */
export const lockDataDir = (dir: string): DataDirLock => {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  let db: Database.Database;
  try {
    db = takeLock(file);
  } catch (error) {
    if ((error as { code?: string }).code !== 'SQLITE_NOTADB') throw error;
    // Not a lock this code made (an older lock file, say): no one can
    // hold SQLite's lock on it, so it is replaced.
    rmSync(file, { force: true });
    db = takeLock(file);
  }
  writeFileSync(
    path.join(dir, HOLDER_FILE),
    JSON.stringify({
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
    }),
  );
  let released = false;
  return {
    file,
    release: () => {
      if (released) return;
      released = true;
      rmSync(path.join(dir, HOLDER_FILE), { force: true });
      db.close();
    },
  };
};

/** Opens `file` and takes its exclusive lock for as long as it is open. */
const takeLock = (file: string): Database.Database => {
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the exclusive lock, and EXCLUSIVE mode keeps
    // it after the commit, until the connection closes.
    db.exec('BEGIN EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS owner (pid INTEGER)');
    db.exec('DELETE FROM owner');
    db.prepare('INSERT INTO owner VALUES (?)').run(process.pid);
    db.exec('COMMIT');
    return db;
  } catch (error) {
    db.close();
    if (isBusy(error)) {
      throw new DataDirInUseError(file, holderOf(path.dirname(file)));
    }
    throw error;
  }
};
