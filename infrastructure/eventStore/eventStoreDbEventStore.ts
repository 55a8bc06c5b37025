import {
  AllStreamResolvedEvent,
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  excludeSystemEvents,
  FORWARDS,
  jsonEvent,
  NO_STREAM,
  Position,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
} from '@eventstore/db-client';
import { Observable } from 'rxjs';
import {
  AppendResult,
  EventData,
  EventStore,
  EventStoreClosedError,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  WrongExpectedVersionError,
} from '../../application/eventStore';

/** Options of `EventStoreDbEventStore`. */
export interface EventStoreDbEventStoreOptions {
  /**
   * EventStoreDB connection string, for example
   * `esdb://127.0.0.1:2113?tls=false` for the single node of
   * `docker-compose.yml`.
   */
  connectionString: string;
  /**
   * Events read per request during catch-up and `readAll`; at least 2.
   * Default 1,000.
   */
  pageSize?: number;
}

/**
 * Event store backed by an EventStoreDB server (v23.10), through
 * `@eventstore/db-client`.
 *
 * `globalPosition` is the commit position in the server's transaction log:
 * increasing but not dense, so only compare positions, never count with
 * them. `readAll` and `subscribeAll` return events whose commit position is
 * at least `fromPosition`; a position that is not an event's own (such as a
 * checkpoint plus one) is found by reading back from the end of the log,
 * which costs as much as the tail it skips. System events (`$`-types and
 * `$`-streams) are never returned. `recordedAt` is the server's creation
 * time.
 */
export class EventStoreDbEventStore implements EventStore {
  private readonly client: EventStoreDBClient;
  private readonly pageSize: number;
  private closed = false;

  constructor(options: EventStoreDbEventStoreOptions) {
    this.client = EventStoreDBClient.connectionString(options.connectionString);
    this.pageSize = options.pageSize ?? 1_000;
    // Pages overlap by one event, so a page of one would never advance.
    if (this.pageSize < 2) throw new RangeError('pageSize must be at least 2');
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
    try {
      const result = await this.client.appendToStream(
        streamId,
        events.map((event) =>
          jsonEvent({
            type: event.type,
            data: event.data,
            metadata: event.metadata ?? {},
          }),
        ),
        { expectedRevision: toEsdbExpectedRevision(expectedRevision) },
      );
      // The append result carries only the last position; the first one is
      // read back, since the port promises both.
      const appended = await this.readStream(streamId, {
        from: result.nextExpectedRevision - BigInt(events.length - 1),
        maxCount: 1,
      });
      const lastPosition =
        result.position?.commit ?? appended[0]?.globalPosition ?? 0n;
      return {
        nextExpectedRevision: result.nextExpectedRevision,
        firstPosition: appended[0]?.globalPosition ?? lastPosition,
        lastPosition,
      };
    } catch (error) {
      if (error instanceof EsdbWrongExpectedVersionError) {
        throw new WrongExpectedVersionError(
          streamId,
          expectedRevision,
          error.actualVersion,
        );
      }
      throw error;
    }
  }

  async readStream(
    streamId: string,
    options: ReadStreamOptions = {},
  ): Promise<RecordedEvent[]> {
    this.assertOpen();
    if (options.maxCount === 0) return [];
    const backwards = options.direction === 'backwards';
    const read = this.client.readStream(streamId, {
      direction: backwards ? BACKWARDS : FORWARDS,
      fromRevision: options.from ?? (backwards ? END : START),
      maxCount: options.maxCount ?? Number.MAX_SAFE_INTEGER,
    });
    const events: RecordedEvent[] = [];
    try {
      for await (const resolved of read) {
        const event = toRecordedEvent(resolved as AllStreamResolvedEvent);
        if (event !== undefined) events.push(event);
      }
    } catch (error) {
      // The port reads an unknown stream as empty.
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const maxCount = options.maxCount ?? Infinity;
    const events: RecordedEvent[] = [];
    let from = await this.locate(options.fromPosition ?? 1n);
    while (from !== undefined && events.length < maxCount) {
      const page = await this.readAllPage(from);
      for (const resolved of page.events) {
        const event = toRecordedEvent(resolved);
        if (event !== undefined && events.length < maxCount) {
          events.push(event);
        }
      }
      from = page.next;
    }
    return events;
  }

  subscribeAll(
    options: { fromPosition?: bigint } = {},
  ): Observable<RecordedEvent> {
    return new Observable<RecordedEvent>((subscriber) => {
      let stopped = false;
      let unsubscribe: (() => Promise<void>) | undefined;

      const run = async (): Promise<void> => {
        // Catch-up: page through $all from real positions, remembering the
        // last one seen, then subscribe (exclusively) after it.
        let last: Position | undefined;
        let from = await this.locate(options.fromPosition ?? 1n);
        while (from !== undefined && !stopped) {
          const page = await this.readAllPage(from);
          for (const resolved of page.events) {
            if (stopped) return;
            last = resolved.event!.position;
            const event = toRecordedEvent(resolved);
            if (event !== undefined) subscriber.next(event);
          }
          from = page.next;
        }
        if (stopped) return;
        // Nothing to catch up: anchor at the current end of the log, which
        // is before any event appended from now on.
        last ??= await this.lastPosition();

        const subscription = this.client.subscribeToAll({
          fromPosition: last ?? START,
          filter: excludeSystemEvents(),
        });
        unsubscribe = () => subscription.unsubscribe();
        if (stopped) return void subscription.unsubscribe();
        const fromPosition = options.fromPosition ?? 1n;
        for await (const resolved of subscription) {
          const position = resolved.event?.position;
          // The server starts after `last`; the check guards against a
          // repeat of it all the same.
          if (position === undefined) continue;
          if (last !== undefined && !isAfter(position, last)) continue;
          const event = toRecordedEvent(resolved);
          if (event !== undefined && event.globalPosition >= fromPosition) {
            subscriber.next(event);
          }
        }
      };

      run().then(
        () => {
          if (!stopped) subscriber.complete();
        },
        (error: unknown) => subscriber.error(error),
      );
      return () => {
        stopped = true;
        void unsubscribe?.();
      };
    });
  }

  async headPosition(): Promise<bigint> {
    this.assertOpen();
    const [last] = await this.readBackwards(1);
    return last?.globalPosition ?? 0n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.dispose();
  }

  /**
   * The real log position to start a forward read at so that it yields
   * every event with commit position ≥ `from`, or undefined when there is
   * none.
   */
  private async locate(
    from: bigint,
  ): Promise<Position | typeof START | undefined> {
    if (from <= 1n) return START;
    // Walk back from the end until an event before `from`: the last event
    // at or after it is where the read starts.
    let start: Position | undefined;
    let cursor: Position | typeof END = END;
    for (;;) {
      const page = await this.collect(
        this.client.readAll({
          direction: BACKWARDS,
          fromPosition: cursor,
          maxCount: this.pageSize,
        }),
      );
      for (const resolved of page) {
        const position = resolved.event?.position;
        if (position === undefined) continue;
        if (position.commit < from) return start;
        start = position;
      }
      if (page.length < this.pageSize || start === undefined) return start;
      cursor = start;
    }
  }

  /** One forward page of raw $all events; `next` is where the next starts. */
  private async readAllPage(from: Position | typeof START): Promise<{
    events: AllStreamResolvedEvent[];
    next: Position | undefined;
  }> {
    // A read starting at a position includes it, so a full page keeps its
    // last event back: the next page starts with it.
    const raw = await this.collect(
      this.client.readAll({
        direction: FORWARDS,
        fromPosition: from,
        maxCount: this.pageSize,
      }),
    );
    const events = raw.filter((resolved) => resolved.event !== undefined);
    const last = events[events.length - 1]?.event?.position;
    const next =
      raw.length < this.pageSize || last === undefined ? undefined : last;
    if (next !== undefined) events.pop();
    return { events, next };
  }

  /** The last `count` user events, newest first, paging back from the end. */
  private async readBackwards(count: number): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    let cursor: Position | typeof END = END;
    for (;;) {
      const page = await this.collect(
        this.client.readAll({
          direction: BACKWARDS,
          fromPosition: cursor,
          maxCount: this.pageSize,
        }),
      );
      // A backward read includes its start: skip it when continuing.
      for (const resolved of cursor === END ? page : page.slice(1)) {
        const event = toRecordedEvent(resolved);
        if (event !== undefined) events.push(event);
        if (events.length === count) return events;
      }
      const last = page[page.length - 1]?.event?.position;
      if (page.length < this.pageSize || last === undefined) return events;
      cursor = last;
    }
  }

  private async lastPosition(): Promise<Position | undefined> {
    const [last] = await this.collect(
      this.client.readAll({
        direction: BACKWARDS,
        fromPosition: END,
        maxCount: 1,
      }),
    );
    return last?.event?.position;
  }

  private async collect(
    read: AsyncIterable<AllStreamResolvedEvent>,
  ): Promise<AllStreamResolvedEvent[]> {
    const events: AllStreamResolvedEvent[] = [];
    for await (const resolved of read) events.push(resolved);
    return events;
  }

  private assertOpen(): void {
    if (this.closed) throw new EventStoreClosedError();
  }
}

const toEsdbExpectedRevision = (expected: ExpectedRevision) => {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return expected;
  }
};

const isAfter = (a: Position, b: Position): boolean =>
  a.commit > b.commit || (a.commit === b.commit && a.prepare > b.prepare);

const isSystem = (streamId: string, type: string): boolean =>
  streamId.startsWith('$') || type.startsWith('$');

/** Maps a user event; system events and links map to undefined. */
const toRecordedEvent = (
  resolved: AllStreamResolvedEvent,
): RecordedEvent | undefined => {
  const event = resolved.event;
  if (event === undefined || isSystem(event.streamId, event.type)) {
    return undefined;
  }
  if (!event.isJson) return undefined;
  return {
    streamId: event.streamId,
    revision: event.revision,
    globalPosition: event.position?.commit ?? resolved.commitPosition ?? 0n,
    type: event.type,
    data: event.data as Record<string, unknown>,
    metadata: (event.metadata ?? {}) as Record<string, unknown>,
    recordedAt: event.created.toISOString(),
  };
};
