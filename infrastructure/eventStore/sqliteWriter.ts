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
 * append checked against its expected revision and applied inside a
 * savepoint of its own, so a failing append leaves no trace and does not
 * fail the others. The transaction takes the write lock up front (`BEGIN
 * IMMEDIATE`), waiting up to the busy timeout for other connections.
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
    const outcomes: AppendOutcome[] = [];
    this.begin.run();
    try {
      const recordedAt = new Date().toISOString();
      for (const append of batch) {
        outcomes.push(this.applyInSavepoint(append, recordedAt));
      }
      this.commit.run();
    } catch (error) {
      if (this.db.inTransaction) this.rollback.run();
      throw error;
    }
    return outcomes;
  }

  private applyInSavepoint(
    append: SerializedAppend,
    recordedAt: string,
  ): AppendOutcome {
    this.savepoint.run();
    try {
      const [last] = this.selectRevision.get(append.streamId) as [
        bigint | null,
      ];
      const current: CurrentRevision = last ?? 'no_stream';
      assertExpectedRevision(append.streamId, append.expectedRevision, current);

      let revision = nextRevision(current);
      let firstPosition = 0n;
      let lastPosition = 0n;
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
      this.releaseSavepoint.run();
      return {
        ok: true,
        result: {
          nextExpectedRevision: revision - 1n,
          firstPosition,
          lastPosition,
        },
      };
    } catch (error) {
      this.rollbackToSavepoint.run();
      this.releaseSavepoint.run();
      return { ok: false, error };
    }
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
