import { Observable } from 'rxjs';

/**
 * What the writer expects a stream to look like before its append:
 * - `'no_stream'`: the stream must not exist yet;
 * - `'stream_exists'`: the stream must have at least one event;
 * - `'any'`: no check;
 * - a bigint: the revision of the stream's last event (revisions start at 0).
 */
export type ExpectedRevision = 'no_stream' | 'any' | 'stream_exists' | bigint;

/** An event to append. `data` and `metadata` must be plain JSON. */
export interface EventData {
  type: string;
  data: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

/** An event as the store recorded it. */
export interface RecordedEvent {
  streamId: string;
  /** 0-based revision of the event within its stream. */
  revision: bigint;
  /** 1-based position in the global log (`$all`); unique and increasing. */
  globalPosition: bigint;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** ISO-8601 wall time at which the store wrote the event. */
  recordedAt: string;
}

export interface AppendResult {
  /** Revision of the last appended event: the next append's expected revision. */
  nextExpectedRevision: bigint;
  /** Global positions of the first and last appended event. */
  firstPosition: bigint;
  lastPosition: bigint;
}

export interface ReadStreamOptions {
  /** Revision to start at (inclusive). Default: start (forwards) or end (backwards). */
  from?: bigint;
  /** Default `'forwards'`. */
  direction?: 'forwards' | 'backwards';
  /** Default: no limit. */
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Global position to start at (inclusive). Default 1, the first event. */
  fromPosition?: bigint;
  /** Default: no limit. */
  maxCount?: number;
}

/**
 * The event store port. Adapters live in `infrastructure/eventStore/` and all
 * pass the same contract suite in `test/infrastructure/eventStore/`.
 */
export interface EventStore {
  /**
   * Appends `events` to `streamId` atomically if the stream matches
   * `expectedRevision`; otherwise writes nothing and throws
   * `WrongExpectedVersionError`.
   */
  append(
    streamId: string,
    events: EventData[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult>;

  /** Reads one stream; an unknown stream reads as empty. */
  readStream(
    streamId: string,
    options?: ReadStreamOptions,
  ): Promise<RecordedEvent[]>;

  /** Reads the global log in position order. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;

  /**
   * Every event from `fromPosition` (inclusive, default 1): first those
   * already stored (catch-up), then new ones as they are appended (live),
   * in global order with no gap and no duplicate.
   */
  subscribeAll(options?: { fromPosition?: bigint }): Observable<RecordedEvent>;

  /** Global position of the last stored event, 0n when empty. */
  headPosition(): Promise<bigint>;

  /** Flushes and releases the store; later calls fail. */
  close(): Promise<void>;
}

/** Thrown by `append` when the stream is not at the expected revision. */
export class WrongExpectedVersionError extends Error {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    /** Revision of the stream's last event, or `'no_stream'`. */
    readonly actual: bigint | 'no_stream',
  ) {
    super(
      `Stream '${streamId}' expected revision ${String(expected)} ` +
        `but is at ${String(actual)}`,
    );
    this.name = 'WrongExpectedVersionError';
  }
}

/** Thrown by any operation after `close()`. */
export class EventStoreClosedError extends Error {
  constructor() {
    super('Event store is closed');
    this.name = 'EventStoreClosedError';
  }
}
