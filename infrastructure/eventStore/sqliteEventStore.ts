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
  AppendOutcome,
  openEventsConnection,
  SerializedAppend,
  SqliteWriter,
} from './sqliteWriter';
import { SqliteWriterThread } from './sqliteWriterThread';
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
   * milliseconds. Default 200.
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
  /**
   * Where commits run. `'inline'` (default): on the calling thread, which
   * waits for each commit and its fsync. `'thread'`: on a writer thread
   * with its own connection, so the calling thread goes on serving while
   * a batch commits; the next batch collects meanwhile.
   */
  writer?: 'inline' | 'thread';
}

/** An append waiting for the next group commit. */
interface PendingAppend {
  append: SerializedAppend;
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
 * IMMEDIATE`) and wait up to `busyTimeoutMs` for it. Inline, that wait
 * and every commit's fsync block the event loop, as every better-sqlite3
 * call does; with `writer: 'thread'` they happen on a writer thread and
 * only reads run on the caller's.
 */
export class SqliteEventStore implements EventStore {
  private readonly db: Database.Database;
  private readonly appended = new Subject<void>();
  private readonly maxBatchSize: number;
  private readonly pollIntervalMs: number;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  /** Settles when the batch being written (if any) is settled. */
  private flushed: Promise<void> = Promise.resolve();
  /** Batches handed to the writer and not yet settled. */
  private writesInFlight = 0;
  private closed = false;
  /** The head, and the `data_version` it was last read from the file at. */
  private head = 0n;
  private headDataVersion = -1n;
  /** The highest position `committedElsewhere` was told of. */
  private toldCommitted = 0n;
  /** Commits on this thread, or hands batches to a writer thread. */
  private readonly writer:
    | { kind: 'inline'; writer: SqliteWriter }
    | { kind: 'thread'; thread: SqliteWriterThread };

  private readonly selectAll: Database.Statement;
  private readonly selectStreamForwards: Database.Statement;
  private readonly selectStreamBackwards: Database.Statement;
  private readonly selectHead: Database.Statement;
  private readonly selectDataVersion: Database.Statement;

  constructor(options: SqliteEventStoreOptions) {
    this.maxBatchSize = options.maxBatchSize ?? 2_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    if (options.path !== ':memory:') {
      mkdirSync(dirname(options.path), { recursive: true });
    }
    const connection = {
      busyTimeoutMs: options.busyTimeoutMs ?? 5_000,
      durability: options.durability ?? 'full',
    };
    this.db = openEventsConnection(options.path, connection);
    this.createSchema(options.initialPosition ?? 1n);
    this.writer =
      options.writer === 'thread' && options.path !== ':memory:'
        ? {
            kind: 'thread',
            thread: new SqliteWriterThread({ path: options.path, connection }),
          }
        : { kind: 'inline', writer: new SqliteWriter(this.db) };

    const db = this.db;
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
    this.selectDataVersion = db.prepare('PRAGMA data_version').pluck();
    for (const statement of [
      this.selectAll,
      this.selectStreamForwards,
      this.selectStreamBackwards,
      this.selectHead,
    ]) {
      statement.raw(true);
    }
    this.head = this.readHead();
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
        append: {
          streamId,
          expectedRevision,
          types: events.map((event) => event.type),
          data: events.map((event) => JSON.stringify(event.data)),
          metadata: events.map((event) => JSON.stringify(event.metadata ?? {})),
        },
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
   * The highest global position this object has appended or read, 0n for
   * an empty file, without asking the file: exact for its own appends,
   * behind by whatever other connections appended since it last looked.
   */
  knownHeadPosition(): bigint {
    return this.head;
  }

  /**
   * Emits after each commit of this store's own appends, and of another
   * connection's it is told of (`committedElsewhere`).
   */
  get commits(): Observable<void> {
    return this.appended.asObservable();
  }

  /**
   * Records that another connection to the file (the engine thread's)
   * committed up to `position`: the known head moves and subscriptions
   * look now, as after a commit of this store's own.
   */
  committedElsewhere(position: bigint): void {
    // Compared with what was told before, not with the head: a health
    // probe may have read the head from the file already, and the
    // subscriptions still need waking.
    if (this.closed || position <= this.toldCommitted) return;
    this.toldCommitted = position;
    if (position > this.head) this.head = position;
    this.appended.next();
  }

  /**
   * Tells subscriptions to look for new events now rather than at their
   * next poll: for a process told by another one that it appended.
   */
  wake(): void {
    if (!this.closed) this.appended.next();
  }

  /**
   * Kept in memory: this store's own commits move it, and SQLite's
   * `data_version`, which changes only when another connection commits,
   * says when it must be read from the file again. Every read-model
   * request asks for the head, so this saves a query per request.
   */
  async headPosition(): Promise<bigint> {
    this.assertOpen();
    const version = this.selectDataVersion.get() as bigint;
    if (version !== this.headDataVersion) {
      this.head = this.readHead();
      this.headDataVersion = version;
    }
    return this.head;
  }

  private readHead(): bigint {
    const [head] = this.selectHead.get() as [bigint | null];
    return head ?? 0n;
  }

  /** Commits the appends still queued, then closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (
      this.pending.length > 0 ||
      this.flushScheduled ||
      this.writesInFlight > 0
    ) {
      await this.flushed;
    }
    this.closed = true;
    this.appended.complete();
    if (this.writer.kind === 'thread') await this.writer.thread.close();
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
        void this.flush().then(done);
      }),
    );
  }

  /**
   * Writes the next batch of pending appends and settles their promises.
   * A writer thread is handed each batch at once, even while it commits
   * earlier ones: it joins every batch waiting for it into its next
   * transaction, so an append waits for at most one commit before its
   * own. Never rejects.
   */
  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, this.maxBatchSize);
    if (batch.length === 0) return;
    // What did not fit goes next; appends made from here on schedule
    // their own flush.
    if (this.pending.length > 0) this.scheduleFlush();
    this.writesInFlight++;
    let outcomes: AppendOutcome[];
    try {
      const appends = batch.map((pending) => pending.append);
      outcomes =
        this.writer.kind === 'inline'
          ? this.writer.writer.write(appends)
          : await this.writer.thread.write(appends);
    } catch (error) {
      // Nothing of this batch was committed (busy timeout, disk full…).
      for (const pending of batch) pending.reject(error);
      outcomes = [];
    } finally {
      this.writesInFlight--;
    }

    outcomes.forEach((outcome, index) => {
      if (outcome.ok) {
        if (outcome.result.lastPosition > this.head) {
          this.head = outcome.result.lastPosition;
        }
        batch[index].resolve(outcome.result);
      } else {
        batch[index].reject(outcome.error);
      }
    });
    if (outcomes.length > 0) this.appended.next();
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
