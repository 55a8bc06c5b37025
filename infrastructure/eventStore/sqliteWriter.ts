import Database from 'better-sqlite3';
import {
  AppendResult,
  ExpectedRevision,
  WrongExpectedVersionError,
} from '../../application/eventStore';
import {
  assertExpectedRevision,
  CurrentRevision,
  nextRevision,
} from './expectedRevision';

/** An append on its way to the database, its events already JSON text. */
export interface SerializedAppend {
  streamId: string;
  expectedRevision: ExpectedRevision;
  types: string[];
  data: string[];
  metadata: string[];
}

/** What became of one append of a batch. */
export type AppendOutcome<E = unknown> =
  { ok: true; result: AppendResult } | { ok: false; error: E };

/** Connection settings shared by every connection to an events file. */
export interface EventsConnectionOptions {
  /** Wait for another connection's write lock, ms. */
  busyTimeoutMs: number;
  /** `full`: fsync every commit; `normal`: only at WAL checkpoints. */
  durability: 'full' | 'normal';
}

/** Opens a connection to an events file with the store's pragmas. */
export const openEventsConnection = (
  path: string,
  { busyTimeoutMs, durability }: EventsConnectionOptions,
): Database.Database => {
  const db = new Database(path, { timeout: busyTimeoutMs });
  // Positions and revisions are 64-bit: never let them become numbers.
  db.defaultSafeIntegers(true);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durability === 'normal' ? 'NORMAL' : 'FULL'}`);
  return db;
};

/**
 * Writes batches of appends to the `events` table: one transaction per
 * batch (one fsync for all of them, the point of group commit), each
 * append checked against its expected revision on its own, so an append
 * whose check fails writes nothing and does not fail the others. The
 * transaction takes the write lock up front (`BEGIN IMMEDIATE`), waiting
 * up to the busy timeout for other connections.
 *
 * While the lock is held no one else writes, so a stream's revision is
 * read once per batch and then followed in memory. If an insert itself
 * fails (which the revision check should make impossible), the batch is
 * rolled back and written again with every append in a savepoint of its
 * own, so the failing append leaves no trace and the others still land.
 */
export class SqliteWriter {
  private readonly selectRevision: Database.Statement;
  private readonly insertEvent: Database.Statement;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly rollbackToSavepoint: Database.Statement;
  private readonly releaseSavepoint: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.selectRevision = db
      .prepare('SELECT MAX(revision) FROM events WHERE stream_id = ?')
      .raw(true);
    this.insertEvent = db.prepare(
      `INSERT INTO events
         (stream_id, revision, type, data, metadata, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT append');
    this.rollbackToSavepoint = db.prepare('ROLLBACK TO append');
    this.releaseSavepoint = db.prepare('RELEASE append');
  }

  /**
   * Commits what it can of `batch` and says, append by append, what
   * happened. Throws when the transaction as a whole fails (busy timeout,
   * disk full): then nothing of the batch was written.
   */
  write(batch: readonly SerializedAppend[]): AppendOutcome[] {
    try {
      return this.inTransaction(batch, false);
    } catch (error) {
      if (!(error instanceof InsertFailed)) throw error;
      return this.inTransaction(batch, true);
    }
  }

  private inTransaction(
    batch: readonly SerializedAppend[],
    savepoints: boolean,
  ): AppendOutcome[] {
    const outcomes: AppendOutcome[] = [];
    const revisions = new Map<string, CurrentRevision>();
    this.begin.run();
    try {
      const recordedAt = new Date().toISOString();
      for (const append of batch) {
        outcomes.push(
          savepoints
            ? this.applyInSavepoint(append, recordedAt, revisions)
            : this.apply(append, recordedAt, revisions),
        );
      }
      this.commit.run();
    } catch (error) {
      if (this.db.inTransaction) this.rollback.run();
      throw error;
    }
    return outcomes;
  }

  /**
   * Checks and inserts one append. A failed revision check is its outcome;
   * a failed insert throws `InsertFailed`, for the caller to roll back.
   */
  private apply(
    append: SerializedAppend,
    recordedAt: string,
    revisions: Map<string, CurrentRevision>,
  ): AppendOutcome {
    let current = revisions.get(append.streamId);
    if (current === undefined) {
      const [last] = this.selectRevision.get(append.streamId) as [
        bigint | null,
      ];
      current = last ?? 'no_stream';
      revisions.set(append.streamId, current);
    }
    try {
      assertExpectedRevision(append.streamId, append.expectedRevision, current);
    } catch (error) {
      return { ok: false, error };
    }

    let revision = nextRevision(current);
    let firstPosition = 0n;
    let lastPosition = 0n;
    try {
      for (let i = 0; i < append.types.length; i++) {
        const info = this.insertEvent.run(
          append.streamId,
          revision,
          append.types[i],
          append.data[i],
          append.metadata[i],
          recordedAt,
        );
        lastPosition = BigInt(info.lastInsertRowid);
        if (i === 0) firstPosition = lastPosition;
        revision++;
      }
    } catch (error) {
      throw new InsertFailed(error);
    }
    revisions.set(append.streamId, revision - 1n);
    return {
      ok: true,
      result: {
        nextExpectedRevision: revision - 1n,
        firstPosition,
        lastPosition,
      },
    };
  }

  /** Like `apply`, but an insert that fails undoes only its own append. */
  private applyInSavepoint(
    append: SerializedAppend,
    recordedAt: string,
    revisions: Map<string, CurrentRevision>,
  ): AppendOutcome {
    const before = revisions.get(append.streamId);
    this.savepoint.run();
    try {
      const outcome = this.apply(append, recordedAt, revisions);
      this.releaseSavepoint.run();
      return outcome;
    } catch (error) {
      this.rollbackToSavepoint.run();
      this.releaseSavepoint.run();
      if (before === undefined) revisions.delete(append.streamId);
      else revisions.set(append.streamId, before);
      return {
        ok: false,
        error: error instanceof InsertFailed ? error.cause : error,
      };
    }
  }
}

/** An insert failed part-way through an append; the batch must roll back. */
class InsertFailed extends Error {
  constructor(override readonly cause: unknown) {
    super('insert failed');
  }
}

/** A write error as plain data, to cross from a writer thread. */
export type WriteFailure =
  | {
      kind: 'wrong_expected_version';
      streamId: string;
      expected: ExpectedRevision;
      actual: bigint | 'no_stream';
    }
  | { kind: 'error'; name: string; message: string; code?: string };

export const toWriteFailure = (error: unknown): WriteFailure => {
  if (error instanceof WrongExpectedVersionError) {
    const { streamId, expected, actual } = error;
    return { kind: 'wrong_expected_version', streamId, expected, actual };
  }
  const { name, message } =
    error instanceof Error ? error : new Error(String(error));
  const code = (error as { code?: unknown }).code;
  return {
    kind: 'error',
    name,
    message,
    ...(typeof code === 'string' ? { code } : {}),
  };
};

/** The error a {@link WriteFailure} describes, typed as it was thrown. */
export const fromWriteFailure = (failure: WriteFailure): Error => {
  if (failure.kind === 'wrong_expected_version') {
    return new WrongExpectedVersionError(
      failure.streamId,
      failure.expected,
      failure.actual,
    );
  }
  const error = new Error(failure.message) as Error & { code?: string };
  error.name = failure.name;
  if (failure.code !== undefined) error.code = failure.code;
  return error;
};
