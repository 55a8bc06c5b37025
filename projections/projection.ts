import type Database from 'better-sqlite3';
import type { RecordedEvent } from '../application/eventStore';

/** The SQLite connection that holds every read model and checkpoint. */
export type ReadModelDb = Database.Database;

/**
 * One read model and the fold that builds it from `$all`.
 *
 * The runtime calls `fold` for each new event of a batch (in memory only),
 * then `flush` and the checkpoint write inside one SQLite transaction, so a
 * read model on disk always matches its checkpoint exactly. After a failed
 * batch or a rebuild the runtime calls `load` to re-read the state from the
 * tables, throwing away whatever the fold held in memory.
 */
export interface Projection {
  /** Stable name: the checkpoint key and the `rebuild` argument. */
  readonly name: string;
  /** Creates the tables if missing (runs once per open). */
  setup(db: ReadModelDb): void;
  /** Empties the tables, for a rebuild from position 0. */
  reset(db: ReadModelDb): void;
  /** Loads the in-memory fold state from the tables. */
  load(db: ReadModelDb): void;
  /**
   * Folds one event into memory. Returns true when the read model
   * changed, which tells caches in front of it to forget their answers.
   */
  fold(event: RecordedEvent): boolean;
  /** Writes what `fold` changed since the last flush; inside a transaction. */
  flush(db: ReadModelDb): void;
  /**
   * Side effects to complete before the batch commits (a process manager
   * appending the events it decided). Optional.
   */
  beforeCommit?(): Promise<void>;
}

/** What a projection reports about itself, for lag and health. */
export interface ProjectionStatus {
  name: string;
  /** Global position of the last event folded and committed; 0n before any. */
  checkpoint: bigint;
  state: 'running' | 'stopped' | 'failed';
  /** Set when `state` is `failed`: the event the fold threw on. */
  failure?: { globalPosition: bigint; type: string; message: string };
}
