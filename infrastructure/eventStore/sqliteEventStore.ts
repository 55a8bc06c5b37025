import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Observable, Subject } from 'rxjs';
import {
  AppendResult,
  EventData,
  EventStore,
  EventStoreClosedError,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
} from '../../application/eventStore';
import {
  assertExpectedRevision,
  CurrentRevision,
  nextRevision,
} from './expectedRevision';
import { pullSubscription } from './pullSubscription';

/** Options of `SqliteEventStore`. */
export interface SqliteEventStoreOptions {
  /** Database file; created, with its folder and schema, when missing. */
  path: string;
  /**
   * Global position of the first event, applied only to a fresh database.
   * Default 1n.
   */
  initialPosition?: bigint;
  /**
   * How long a write waits for another connection (or process) holding the
   * write lock, in milliseconds. Default 5,000.
   */
  busyTimeoutMs?: number;
  /**
   * Most appends committed together in one transaction. Default 2,000.
   */
  maxBatchSize?: number;
  /**
   * How often subscriptions look for events written by other processes, in
   * milliseconds, and how old `headPosition` may be about them. Default 200.
   */
  pollIntervalMs?: number;
  /**
   * `'full'` (default): every commit is fsynced before its appends
   * resolve, so an acknowledged event survives a power cut. `'normal'`:
   * commits reach the OS but are fsynced only at WAL checkpoints; an
   * acknowledged event survives the process being killed, not the machine
   * losing power. Trades durability for several times the commit rate.
   */
  durability?: 'full' | 'normal';
}

/** An append waiting for the next group commit. */
interface PendingAppend {
  streamId: string;
  expectedRevision: ExpectedRevision;
  types: string[];
  data: string[];
  metadata: string[];
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/** A row of `events` as `.raw()` returns it, in column order. */
type EventRow = [bigint, string, bigint, string, string, string, string];

const EVENT_COLUMNS =
  'position, stream_id, revision, type, data, metadata, recorded_at';
const MAX_REVISION = 2n ** 63n - 1n;

/**
 * Durable event store in one SQLite file (WAL, `synchronous=FULL`): the
 * embedded default.
 *
 * Appends made while a commit is pending are queued and committed together
 * (group commit), so one fsync serves many appends; each append is still
 * checked and applied on its own inside a savepoint, and its promise settles
 * only after the commit. Several connections, in this process or others,
 * may share the file: writes take the write lock up front (`BEGIN
 * IMMEDIATE`) and wait up to `busyTimeoutMs` for it. That wait blocks the
 * event loop, as every better-sqlite3 call does.
 */
export class SqliteEventStore implements EventStore {
  private readonly db: Database.Database;
  private readonly appended = new Subject<void>();
  private readonly maxBatchSize: number;
  private readonly pollIntervalMs: number;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  private flushed: Promise<void> = Promise.resolve();
  private closed = false;
  /** The head as last read from the file, and when (performance.now()). */
  private head = 0n;
  private headReadAt = -Infinity;

  private readonly selectRevision: Database.Statement;
  private readonly insertEvent: Database.Statement;
  private readonly selectAll: Database.Statement;
  private readonly selectStreamForwards: Database.Statement;
  private readonly selectStreamBackwards: Database.Statement;
  private readonly selectHead: Database.Statement;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly rollbackToSavepoint: Database.Statement;
  private readonly releaseSavepoint: Database.Statement;

  constructor(options: SqliteEventStoreOptions) {
    this.maxBatchSize = options.maxBatchSize ?? 2_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    if (options.path !== ':memory:') {
      mkdirSync(dirname(options.path), { recursive: true });
    }
    this.db = new Database(options.path, {
      timeout: options.busyTimeoutMs ?? 5_000,
    });
    // Positions and revisions are 64-bit: never let them become numbers.
    this.db.defaultSafeIntegers(true);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(
      `synchronous = ${options.durability === 'normal' ? 'NORMAL' : 'FULL'}`,
    );
    this.createSchema(options.initialPosition ?? 1n);

    const db = this.db;
    this.selectRevision = db.prepare(
      'SELECT MAX(revision) FROM events WHERE stream_id = ?',
    );
    this.insertEvent = db.prepare(
      `INSERT INTO events (${EVENT_COLUMNS.slice('position, '.length)})
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.selectAll = db.prepare(
      `SELECT ${EVENT_COLUMNS} FROM events
       WHERE position >= ? ORDER BY position LIMIT ?`,
    );
    this.selectStreamForwards = db.prepare(
      `SELECT ${EVENT_COLUMNS} FROM events
       WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?`,
    );
    this.selectStreamBackwards = db.prepare(
      `SELECT ${EVENT_COLUMNS} FROM events
       WHERE stream_id = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`,
    );
    this.selectHead = db.prepare('SELECT MAX(position) FROM events');
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT append');
    this.rollbackToSavepoint = db.prepare('ROLLBACK TO append');
    this.releaseSavepoint = db.prepare('RELEASE append');
    for (const statement of [
      this.selectRevision,
      this.selectAll,
      this.selectStreamForwards,
      this.selectStreamBackwards,
      this.selectHead,
    ]) {
      statement.raw(true);
    }
  }

  append(
    streamId: string,
    events: EventData[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.assertOpen();
      if (events.length === 0) {
        throw new RangeError('append needs at least one event');
      }
      // Serialise now, so an event that is not JSON fails its own append
      // before the group transaction starts.
      this.pending.push({
        streamId,
        expectedRevision,
        types: events.map((event) => event.type),
        data: events.map((event) => JSON.stringify(event.data)),
        metadata: events.map((event) => JSON.stringify(event.metadata ?? {})),
        resolve,
        reject,
      });
      this.scheduleFlush();
    });
  }

  async readStream(
    streamId: string,
    options: ReadStreamOptions = {},
  ): Promise<RecordedEvent[]> {
    this.assertOpen();
    const limit = options.maxCount ?? -1;
    const rows =
      options.direction === 'backwards'
        ? this.selectStreamBackwards.all(
            streamId,
            options.from ?? MAX_REVISION,
            limit,
          )
        : this.selectStreamForwards.all(streamId, options.from ?? 0n, limit);
    return (rows as EventRow[]).map(toRecordedEvent);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const rows = this.selectAll.all(
      options.fromPosition ?? 1n,
      options.maxCount ?? -1,
    ) as EventRow[];
    const last = rows[rows.length - 1];
    if (last && last[0] > this.head) this.head = last[0];
    return rows.map(toRecordedEvent);
  }

  subscribeAll(options: { fromPosition?: bigint } = {}) {
    return pullSubscription(
      {
        readAll: (readOptions) => this.readAll(readOptions),
        wakeUps: this.appended as Observable<unknown>,
      },
      {
        fromPosition: options.fromPosition,
        pollIntervalMs: this.pollIntervalMs,
      },
    );
  }

  /**
   * Exact for this store's own appends, which move the head as they
   * commit. Appends by other connections to the file show within
   * `pollIntervalMs`: the head is read from the file again only when older
   * than that, since every read models request asks for it.
   */
  async headPosition(): Promise<bigint> {
    this.assertOpen();
    const now = performance.now();
    if (now - this.headReadAt >= this.pollIntervalMs) {
      const [head] = this.selectHead.get() as [bigint | null];
      this.head = head ?? 0n;
      this.headReadAt = now;
    }
    return this.head;
  }

  /** Commits the appends still queued, then closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.pending.length > 0 || this.flushScheduled) {
      await this.flushed;
    }
    this.closed = true;
    this.appended.complete();
    this.db.close();
  }

  private createSchema(initialPosition: bigint): void {
    if (initialPosition < 1n) {
      throw new RangeError('initialPosition must be at least 1');
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS events (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        stream_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        metadata TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        UNIQUE (stream_id, revision)
      )`);
    // AUTOINCREMENT continues from sqlite_sequence; seeding it on a fresh
    // database makes the first event land on initialPosition.
    this.db
      .prepare(
        `INSERT INTO sqlite_sequence (name, seq)
         SELECT 'events', ? WHERE NOT EXISTS
           (SELECT 1 FROM sqlite_sequence WHERE name = 'events')
         AND NOT EXISTS (SELECT 1 FROM events)`,
      )
      .run(initialPosition - 1n);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate, not a microtask: appends issued by callbacks of the
    // previous commit (a writer loop) get the chance to join this batch.
    this.flushed = new Promise((done) =>
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
        done();
      }),
    );
  }

  private flush(): void {
    const batch = this.pending.splice(0, this.maxBatchSize);
    if (this.pending.length > 0) this.scheduleFlush();
    if (batch.length === 0) return;

    const outcomes: Array<
      { ok: true; result: AppendResult } | { ok: false; error: unknown }
    > = [];
    try {
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
    } catch (error) {
      // Nothing of this batch was committed (busy timeout, disk full…).
      for (const append of batch) append.reject(error);
      return;
    }

    batch.forEach((append, index) => {
      const outcome = outcomes[index];
      if (outcome.ok && outcome.result.lastPosition > this.head) {
        this.head = outcome.result.lastPosition;
      }
      if (outcome.ok) append.resolve(outcome.result);
      else append.reject(outcome.error);
    });
    this.appended.next();
  }

  /** Checks and writes one append; on failure it leaves no trace. */
  private applyInSavepoint(
    append: PendingAppend,
    recordedAt: string,
  ): { ok: true; result: AppendResult } | { ok: false; error: unknown } {
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

  private assertOpen(): void {
    if (this.closed) throw new EventStoreClosedError();
  }
}

const EMPTY_JSON = '{}';

const toRecordedEvent = (row: EventRow): RecordedEvent => ({
  globalPosition: row[0],
  streamId: row[1],
  revision: row[2],
  type: row[3],
  data: JSON.parse(row[4]),
  // Most events carry no metadata; skipping the parse pays off on replay.
  metadata: row[5] === EMPTY_JSON ? {} : JSON.parse(row[5]),
  recordedAt: row[6],
});
