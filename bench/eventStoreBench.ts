import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EventData, ExpectedRevision } from '../application/eventStore';
import { SqliteEventStore } from '../infrastructure/eventStore';

/** One measured figure, printed as a JSON line by the bench runner. */
export interface BenchFigure {
  bench: string;
  unit: string;
  median: number;
  runs: number[];
  [detail: string]: unknown;
}
import { median } from './stats';

const RUNS = 3;
let emmettFailures = 0;

/** Streams written concurrently: one in-flight append per stream. */
const STREAMS = 1_000;
const SINGLE_APPENDS_PER_STREAM = 20;
const BATCH_STREAMS = 50;
const BATCH_SIZE = 100;
const BATCHES_PER_STREAM = 40;
const READ_PAGE = 10_000;
const EMMETT_STREAMS = 100;
const EMMETT_APPENDS_PER_STREAM = 10;

/**
 * Measures the SQLite event store on fresh temporary files, each figure the
 * median of three runs, and the same single-append workload through
 * Emmett's SQLite event store for comparison. Takes about half a minute.
 */
export async function runEventStoreBench(): Promise<BenchFigure[]> {
  const single = await repeat(benchSingleAppends);
  const batched = await repeat(benchBatchedAppends);
  const readAll = await repeat(benchReadAll);
  const emmett = await repeat(benchEmmettSingleAppends);
  return [
    figure('sqlite_single_append', 'events/s', single, {
      streams: STREAMS,
      appends: STREAMS * SINGLE_APPENDS_PER_STREAM,
      inFlight: STREAMS,
      expectedRevision: 'exact',
    }),
    figure('sqlite_batched_append', 'events/s', batched, {
      eventsPerAppend: BATCH_SIZE,
      events: BATCH_STREAMS * BATCHES_PER_STREAM * BATCH_SIZE,
    }),
    figure('sqlite_read_all', 'events/s', readAll, {
      events: BATCH_STREAMS * BATCHES_PER_STREAM * BATCH_SIZE,
      pageSize: READ_PAGE,
    }),
    figure('emmett_sqlite_single_append', 'events/s', emmett, {
      streams: EMMETT_STREAMS,
      appends: EMMETT_STREAMS * EMMETT_APPENDS_PER_STREAM,
      version: '0.38.5',
      failedAppends: emmettFailures,
    }),
    {
      bench: 'sqlite_single_append_vs_emmett',
      unit: 'ratio',
      median: median(single) / median(emmett),
      runs: single.map((ours, i) => ours / emmett[i]),
    },
  ];
}

const figure = (
  bench: string,
  unit: string,
  runs: number[],
  details: Record<string, unknown>,
): BenchFigure => ({ bench, unit, median: median(runs), runs, ...details });

const repeat = async (run: () => Promise<number>): Promise<number[]> => {
  const results: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    results.push(Math.round(await run()));
  }
  return results;
};

const withTempFile = async <T>(use: (path: string) => Promise<T>) => {
  const dir = mkdtempSync(join(tmpdir(), 'mirai-bench-'));
  try {
    return await use(join(dir, 'events.db'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

const tick = (n: number): EventData => ({
  type: 'PriceTicked',
  data: { symbol: 'BTCUSDT', price: '64250.10', quantity: '0.015', n },
  metadata: { correlationId: `c-${n}` },
});

/** Appends `appendsPerStream` batches to each stream, streams in parallel. */
const writeStreams = async (
  store: SqliteEventStore,
  streams: number,
  appendsPerStream: number,
  batchSize: number,
): Promise<number> => {
  const start = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async (_, s) => {
      let expected: ExpectedRevision = 'no_stream';
      for (let a = 0; a < appendsPerStream; a++) {
        const events = Array.from({ length: batchSize }, (_, i) =>
          tick(a * batchSize + i),
        );
        const result = await store.append(`account-${s}`, events, expected);
        expected = result.nextExpectedRevision;
      }
    }),
  );
  return (streams * appendsPerStream * batchSize) / seconds(start);
};

const seconds = (start: number): number => (performance.now() - start) / 1e3;

const benchSingleAppends = () =>
  withTempFile(async (path) => {
    const store = new SqliteEventStore({ path });
    try {
      return await writeStreams(store, STREAMS, SINGLE_APPENDS_PER_STREAM, 1);
    } finally {
      await store.close();
    }
  });

const benchBatchedAppends = () =>
  withTempFile(async (path) => {
    const store = new SqliteEventStore({ path });
    try {
      return await writeStreams(
        store,
        BATCH_STREAMS,
        BATCHES_PER_STREAM,
        BATCH_SIZE,
      );
    } finally {
      await store.close();
    }
  });

const benchReadAll = () =>
  withTempFile(async (path) => {
    const writer = new SqliteEventStore({ path });
    await writeStreams(writer, BATCH_STREAMS, BATCHES_PER_STREAM, BATCH_SIZE);
    await writer.close();

    // A fresh connection, as a replay after a restart would have.
    const store = new SqliteEventStore({ path });
    try {
      const start = performance.now();
      let read = 0;
      let from = 1n;
      for (;;) {
        const page = await store.readAll({
          fromPosition: from,
          maxCount: READ_PAGE,
        });
        if (page.length === 0) break;
        read += page.length;
        from = page[page.length - 1].globalPosition + 1n;
      }
      return read / seconds(start);
    } finally {
      await store.close();
    }
  });

/**
 * Emmett opens a connection per call, and concurrent calls on one store
 * share and close it under each other, so its writers run one at a time.
 */
const benchEmmettSingleAppends = () =>
  withTempFile(async (path) => {
    const { getSQLiteEventStore } =
      await import('@event-driven-io/emmett-sqlite');
    const store = getSQLiteEventStore({
      fileName: path,
      schema: { autoMigration: 'CreateOrUpdate' },
    });
    const start = performance.now();
    const versions = new Map<string, bigint>();
    let appended = 0;
    for (let a = 0; a < EMMETT_APPENDS_PER_STREAM; a++) {
      for (let s = 0; s < EMMETT_STREAMS; s++) {
        const stream = `account-${s}`;
        const event = tick(a);
        try {
          const result = await store.appendToStream(
            stream,
            [{ type: event.type, data: event.data, metadata: event.metadata }],
            {
              expectedStreamVersion:
                versions.get(stream) ?? 'STREAM_DOES_NOT_EXIST',
            },
          );
          versions.set(stream, result.nextExpectedStreamVersion);
          appended++;
        } catch {
          // Emmett 0.38.5 sometimes fails a commit with SQLITE_BUSY
          // ("SQL statements in progress") even when used sequentially;
          // count only what was written.
          emmettFailures++;
        }
      }
    }
    return appended / seconds(start);
  });
