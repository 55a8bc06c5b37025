import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { SqliteEventStore } from '../../infrastructure/eventStore';
import {
  openReadModelDb,
  ProjectionWorker,
  ReadModelQueries,
} from '../../projections';
import { tempDir } from '../support/tempDirs';

/** A candle event as the engine writes it, for the market read model. */
const candle = (openTime: number, close: string) => ({
  type: 'CandleClosed',
  data: {
    symbol: 'BTCUSDT',
    interval: '1h',
    openTime,
    closeTime: openTime + 3_599_999,
    open: close,
    high: close,
    low: close,
    close,
    volume: '1',
  },
});

describe('ProjectionWorker (read models on a thread of their own)', () => {
  let dir: string;
  let store: SqliteEventStore;
  const errors: string[] = [];

  const start = () =>
    ProjectionWorker.start({
      eventsPath: join(dir, 'events.db'),
      readModelsPath: join(dir, 'readmodels.db'),
      commits: store.commits,
      log: { info: () => undefined, error: (msg) => errors.push(msg) },
    });

  beforeEach(() => {
    dir = tempDir('worker');
    store = new SqliteEventStore({ path: join(dir, 'events.db') });
    errors.length = 0;
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('folds what this process appends, and resumes from its checkpoints after a stop', async () => {
    const worker = await start();
    const first = await store.append(
      'market-BTCUSDT',
      [candle(0, '42000.5')],
      'no_stream',
    );
    expect(await worker.waitFor(first.lastPosition, 5_000)).to.equal(true);
    expect(worker.lowestCheckpoint(['market'])).to.equal(first.lastPosition);
    await worker.stop();

    // Appended while no thread runs: the next one catches up from its
    // checkpoint, and folds the first candle only once.
    const second = await store.append(
      'market-BTCUSDT',
      [candle(3_600_000, '42100.25')],
      0n,
    );
    const again = await start();
    expect(await again.waitFor(second.lastPosition, 5_000)).to.equal(true);
    const db = openReadModelDb(join(dir, 'readmodels.db'));
    const queries = new ReadModelQueries(db, 'main');
    expect(queries.status().isActive).to.be.a('boolean');
    const market = db.prepare('SELECT symbol, close FROM market_latest').all();
    expect(market).to.deep.equal([{ symbol: 'BTCUSDT', close: '42100.25' }]);
    db.close();
    expect(again.counters().failedBatches).to.equal(0);
    await again.stop();
    expect(errors).to.deep.equal([]);
  });

  it('reports every projection failed, and stops reads waiting, when the thread dies', async () => {
    const worker = await start();
    const thread = (worker as unknown as { worker: { terminate(): unknown } })
      .worker;
    await thread.terminate();
    expect(await worker.waitFor(1_000n, 5_000)).to.equal(false);
    expect(worker.statuses().map((s) => s.state)).to.satisfy(
      (states: string[]) => states.every((state) => state === 'failed'),
    );
    expect(worker.statuses()[0].failure?.message).to.match(/exited/);
    expect(errors).to.have.length(1);
    expect(errors[0]).to.match(/^projection thread stopped: thread exited/);
    await worker.stop();
  });

  it('refuses to start, with the reason, when the read-model file cannot be opened', async () => {
    const error = await ProjectionWorker.start({
      eventsPath: join(dir, 'events.db'),
      readModelsPath: join(dir, 'events.db', 'not-a-folder', 'readmodels.db'),
      commits: store.commits,
    }).then(
      () => null,
      (e: Error) => e,
    );
    expect(error).to.be.instanceOf(Error);
  });

  it('wakes the thread at once after a quiet spell, lazily under commits no read waits for, and sooner once a read waits', async () => {
    const commits = new Subject<void>();
    const worker = await ProjectionWorker.start({
      eventsPath: join(dir, 'events.db'),
      readModelsPath: join(dir, 'readmodels.db'),
      commits,
      wakeIntervalMs: 20,
      unreadWakeIntervalMs: 200,
    });
    const wakes: number[] = [];
    const host = worker as unknown as { post: (m: { kind: string }) => void };
    const post = host.post.bind(worker);
    host.post = (message) => {
      if (message.kind === 'wake') wakes.push(wakes.length);
      post(message);
    };
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

    for (let i = 0; i < 100; i++) commits.next();
    expect(wakes.length).to.equal(1); // the first commit, at once
    await pause(100);
    expect(wakes.length).to.equal(1); // no read waits: the rest wait

    // A read needs events the read models lack: the wake-up comes now.
    await worker.waitFor(5n, 1);
    expect(wakes.length).to.equal(2);
    await pause(300);
    expect(wakes.length).to.equal(2); // nothing was left pending

    commits.next(); // after a quiet spell: at once again
    expect(wakes.length).to.equal(3);
    commits.next();
    await pause(100);
    expect(wakes.length).to.equal(3);
    await pause(200);
    expect(wakes.length).to.equal(4); // one unread interval after the last
    await worker.stop();
  });
});
