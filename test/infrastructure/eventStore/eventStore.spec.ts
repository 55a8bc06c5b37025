import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { WrongExpectedVersionError } from '../../../application/eventStore';
import {
  EventStoreDbEventStore,
  InMemoryEventStore,
  SqliteEventStore,
} from '../../../infrastructure/eventStore';
import {
  openEventsConnection,
  SerializedAppend,
  SqliteWriter,
} from '../../../infrastructure/eventStore/sqliteWriter';
import { eventStoreContract } from './eventStoreContract';
import { tempDir } from '../../support/tempDirs';

const tempDatabase = (): { path: string; remove: () => void } => {
  const dir = tempDir('events');
  return {
    path: join(dir, 'events.db'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
};

eventStoreContract('in-memory', async ({ initialPosition }) => {
  const store = new InMemoryEventStore({ initialPosition });
  return { store, cleanup: () => store.close() };
});

for (const writer of ['inline', 'thread'] as const) {
  eventStoreContract(
    `SQLite (${writer} writer)`,
    async ({ initialPosition }) => {
      const file = tempDatabase();
      let store = new SqliteEventStore({
        path: file.path,
        initialPosition,
        writer,
      });
      return {
        store,
        reopen: async () => {
          await store.close();
          store = new SqliteEventStore({ path: file.path, writer });
          return store;
        },
        cleanup: async () => {
          await store.close();
          file.remove();
        },
      };
    },
  );
}

const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;
if (connectionString !== undefined) {
  eventStoreContract('EventStoreDB', async () => {
    const store = new EventStoreDbEventStore({ connectionString });
    return { store, cleanup: () => store.close() };
  });
} else {
  describe('EventStoreDB event store contract', () => {
    it.skip(
      'runs the whole contract when EVENTSTORE_CONNECTION_STRING is set ' +
        '(docker compose up -d eventstore)',
    );
  });
}

describe('SQLite event store shared by two connections', () => {
  let file: ReturnType<typeof tempDatabase>;
  let first: SqliteEventStore;
  let second: SqliteEventStore;

  beforeEach(() => {
    file = tempDatabase();
    first = new SqliteEventStore({ path: file.path });
    second = new SqliteEventStore({ path: file.path });
  });
  afterEach(async () => {
    await first.close();
    await second.close();
    file.remove();
  });

  it('lets exactly one of two stores racing on a stream win', async () => {
    const placed = (by: number) => [{ type: 'OrderPlaced', data: { by } }];
    await first.append('account-1', placed(0), 'no_stream');
    const outcomes = await Promise.allSettled([
      first.append('account-1', placed(1), 0n),
      second.append('account-1', placed(2), 0n),
    ]);
    const lost = outcomes.filter(
      (o): o is PromiseRejectedResult => o.status === 'rejected',
    );
    expect(lost).to.have.length(1);
    expect(lost[0].reason).to.be.instanceOf(WrongExpectedVersionError);
    expect(lost[0].reason.actual).to.equal(1n);
    expect(await second.readStream('account-1')).to.have.length(2);
  });

  it('reports a head moved by another connection, and by its own appends', async () => {
    expect(await first.headPosition()).to.equal(0n);
    const theirs = await second.append(
      's',
      [{ type: 'A', data: {} }],
      'no_stream',
    );
    expect(await first.headPosition()).to.equal(theirs.lastPosition);
    const ours = await first.append('s', [{ type: 'B', data: {} }], 0n);
    expect(await first.headPosition()).to.equal(ours.lastPosition);
    expect(await second.headPosition()).to.equal(ours.lastPosition);
  });

  it("knows its own appends at once, and another connection's once it looks", async () => {
    const theirs = await second.append('s', [{ type: 'A', data: {} }], 'any');
    expect(first.knownHeadPosition()).to.equal(0n);
    expect(await first.headPosition()).to.equal(theirs.lastPosition);
    expect(first.knownHeadPosition()).to.equal(theirs.lastPosition);
    const ours = await first.append('s', [{ type: 'B', data: {} }], 'any');
    expect(first.knownHeadPosition()).to.equal(ours.lastPosition);
    const reopened = new SqliteEventStore({ path: file.path });
    expect(reopened.knownHeadPosition()).to.equal(ours.lastPosition);
    await reopened.close();
  });

  it("knows another connection's commit once told of it, and wakes its subscribers", async () => {
    let wakes = 0;
    const counting = first.commits.subscribe(() => wakes++);
    const theirs = await second.append('s', [{ type: 'A', data: {} }], 'any');
    first.committedElsewhere(theirs.lastPosition);
    expect(first.knownHeadPosition()).to.equal(theirs.lastPosition);
    expect(wakes).to.equal(1);
    // An older position, or the same one again, changes nothing.
    first.committedElsewhere(theirs.lastPosition - 1n);
    first.committedElsewhere(theirs.lastPosition);
    expect(first.knownHeadPosition()).to.equal(theirs.lastPosition);
    expect(wakes).to.equal(1);
    // Told after it read the head from the file itself: still wakes.
    const later = await second.append('s', [{ type: 'B', data: {} }], 'any');
    expect(await first.headPosition()).to.equal(later.lastPosition);
    first.committedElsewhere(later.lastPosition);
    expect(wakes).to.equal(2);
    counting.unsubscribe();
  });

  it('delivers events written through another connection to a subscriber', async () => {
    const received = new Promise<bigint>((resolve) => {
      const subscription = first.subscribeAll().subscribe((e) => {
        subscription.unsubscribe();
        resolve(e.globalPosition);
      });
    });
    const result = await second.append(
      'system',
      [{ type: 'TradingStarted', data: {} }],
      'no_stream',
    );
    expect(await received).to.equal(result.firstPosition);
  });
});

describe('SQLite event store with a writer thread', () => {
  it('fails every append with the reason once its writer thread is gone, writing nothing more', async () => {
    const file = tempDatabase();
    const store = new SqliteEventStore({ path: file.path, writer: 'thread' });
    await store.append('s', [{ type: 'A', data: {} }], 'no_stream');
    // The thread is private: end it the way a crash would.
    const thread = (store as unknown as { writer: { thread: unknown } }).writer
      .thread as { worker: { terminate(): Promise<number> } };
    await thread.worker.terminate();

    const attempt = store.append('s', [{ type: 'B', data: {} }], 0n);
    const error = await attempt.then(
      () => null,
      (e: Error) => e,
    );
    expect(error?.message).to.match(/writer thread exited/);
    expect((await store.readAll()).map((e) => e.type)).to.deep.equal(['A']);
    await store.close();
    file.remove();
  });

  it('commits appends made while a batch is in flight in the next batch', async () => {
    const file = tempDatabase();
    const store = new SqliteEventStore({ path: file.path, writer: 'thread' });
    const appends = Array.from({ length: 200 }, (_, i) =>
      store.append(`s-${i % 7}`, [{ type: 'E', data: { i } }], 'any'),
    );
    const results = await Promise.all(appends);
    const positions = results.map((r) => r.firstPosition);
    expect(new Set(positions).size).to.equal(200);
    expect(await store.headPosition()).to.equal(200n);
    await store.close();
    const reopened = new SqliteEventStore({ path: file.path });
    expect(await reopened.readAll()).to.have.length(200);
    await reopened.close();
    file.remove();
  });
});

describe('SQLite writer batches', () => {
  const serialized = (
    streamId: string,
    expectedRevision: SerializedAppend['expectedRevision'],
    data: unknown[],
  ): SerializedAppend => ({
    streamId,
    expectedRevision,
    types: data.map(() => 'Noted'),
    data: data as string[],
    metadata: data.map(() => '{}'),
  });

  const withWriter = async (
    test: (writer: SqliteWriter, rows: () => unknown[]) => void,
  ) => {
    const file = tempDatabase();
    await new SqliteEventStore({ path: file.path }).close(); // the schema
    const db = openEventsConnection(file.path, {
      busyTimeoutMs: 1_000,
      durability: 'full',
    });
    try {
      const rows = () =>
        db
          .prepare(
            'SELECT stream_id, revision, data FROM events ORDER BY position',
          )
          .all()
          .map((row) => {
            const { stream_id, revision, data } = row as Record<
              string,
              unknown
            >;
            return `${stream_id}@${revision}:${data}`;
          });
      test(new SqliteWriter(db), rows);
    } finally {
      db.close();
      file.remove();
    }
  };

  it('follows a stream through several appends of one batch, failing only the one that expects wrongly', () =>
    withWriter((writer, rows) => {
      const outcomes = writer.write([
        serialized('a', 'no_stream', ['"a0"', '"a1"']),
        serialized('a', 0n, ['"stale"']),
        serialized('a', 1n, ['"a2"']),
        serialized('b', 'any', ['"b0"']),
      ]);
      expect(outcomes.map((o) => o.ok)).to.deep.equal([
        true,
        false,
        true,
        true,
      ]);
      const failed = outcomes[1] as { ok: false; error: unknown };
      expect(failed.error).to.be.instanceOf(WrongExpectedVersionError);
      expect(rows()).to.deep.equal([
        'a@0:"a0"',
        'a@1:"a1"',
        'a@2:"a2"',
        'b@0:"b0"',
      ]);
    }));

  it('undoes only the append whose insert fails part-way, and still commits the rest', () =>
    withWriter((writer, rows) => {
      // An object cannot be bound to a statement: the second insert of
      // the middle append throws after its first insert went in.
      const outcomes = writer.write([
        serialized('a', 'no_stream', ['"a0"']),
        serialized('a', 0n, ['"half"', { not: 'text' }]),
        serialized('a', 0n, ['"a1"']),
      ]);
      expect(outcomes.map((o) => o.ok)).to.deep.equal([true, false, true]);
      expect(rows()).to.deep.equal(['a@0:"a0"', 'a@1:"a1"']);
    }));
});
