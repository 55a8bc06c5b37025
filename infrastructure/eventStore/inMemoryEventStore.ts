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

/** Options of `InMemoryEventStore`. */
export interface InMemoryEventStoreOptions {
  /**
   * Global position of the first event. Default 1n. Tests set it near 2^53
   * to prove that positions never pass through a JS number.
   */
  initialPosition?: bigint;
}

/**
 * Event store held in process memory, for unit tests and fast backtests.
 * Everything is lost when the process ends. Recorded events are deeply
 * frozen copies, so a caller cannot edit history by mutating what it read.
 */
export class InMemoryEventStore implements EventStore {
  private readonly initialPosition: bigint;
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly appended = new Subject<void>();
  private closed = false;

  constructor(options: InMemoryEventStoreOptions = {}) {
    this.initialPosition = options.initialPosition ?? 1n;
    if (this.initialPosition < 1n) {
      throw new RangeError('initialPosition must be at least 1');
    }
  }

  async append(
    streamId: string,
    events: EventData[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    this.assertOpen();
    if (events.length === 0) {
      throw new RangeError('append needs at least one event');
    }
    const stream = this.streams.get(streamId) ?? [];
    const current: CurrentRevision =
      stream.length === 0 ? 'no_stream' : BigInt(stream.length - 1);
    assertExpectedRevision(streamId, expectedRevision, current);

    // Copy everything before touching the log so that an event that is not
    // plain JSON fails the whole append, not half of it.
    const recordedAt = new Date().toISOString();
    const firstRevision = nextRevision(current);
    const firstPosition = this.initialPosition + BigInt(this.log.length);
    const recorded = events.map((event, index) =>
      deepFreeze<RecordedEvent>({
        streamId,
        revision: firstRevision + BigInt(index),
        globalPosition: firstPosition + BigInt(index),
        type: event.type,
        data: structuredClone(event.data),
        metadata: structuredClone(event.metadata ?? {}),
        recordedAt,
      }),
    );

    this.log.push(...recorded);
    stream.push(...recorded);
    this.streams.set(streamId, stream);
    this.appended.next();
    const last = recorded[recorded.length - 1];
    return {
      nextExpectedRevision: last.revision,
      firstPosition,
      lastPosition: last.globalPosition,
    };
  }

  async readStream(
    streamId: string,
    options: ReadStreamOptions = {},
  ): Promise<RecordedEvent[]> {
    this.assertOpen();
    const stream = this.streams.get(streamId) ?? [];
    const maxCount = options.maxCount ?? Infinity;
    if (options.direction === 'backwards') {
      const from = options.from ?? BigInt(stream.length - 1);
      const end = Math.min(Number(from), stream.length - 1) + 1;
      return stream
        .slice(Math.max(0, end - maxCount), Math.max(0, end))
        .reverse();
    }
    const start = Number(options.from ?? 0n);
    return stream.slice(start, start + maxCount);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const from = options.fromPosition ?? 1n;
    // Indexes into the log stay small even when positions pass 2^53.
    const start =
      from <= this.initialPosition ? 0 : Number(from - this.initialPosition);
    return this.log.slice(start, start + (options.maxCount ?? Infinity));
  }

  subscribeAll(options: { fromPosition?: bigint } = {}) {
    return pullSubscription(
      {
        readAll: (readOptions) => this.readAll(readOptions),
        wakeUps: this.appended as Observable<unknown>,
      },
      { fromPosition: options.fromPosition },
    );
  }

  async headPosition(): Promise<bigint> {
    this.assertOpen();
    const last = this.log[this.log.length - 1];
    return last === undefined ? 0n : last.globalPosition;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.appended.complete();
  }

  private assertOpen(): void {
    if (this.closed) throw new EventStoreClosedError();
  }
}

const deepFreeze = <T>(value: T): T => {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
};
