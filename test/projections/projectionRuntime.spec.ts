import Database from 'better-sqlite3';
import { expect } from 'chai';
import { join } from 'node:path';
import type { RecordedEvent } from '../../application/eventStore';
import { InMemoryEventStore } from '../../infrastructure/eventStore';
import {
  openReadModelDb,
  Projection,
  ProjectionRuntime,
  ReadModelDb,
} from '../../projections';
import { duplicatingStore, snapshot } from './support';
import { tempDir } from '../support/tempDirs';

/** Counts events per type into a table; throws on a type it is told to. */
class CountingProjection implements Projection {
  private counts = new Map<string, number>();
  folded: bigint[] = [];

  constructor(
    readonly name: string,
    private readonly throwOn?: string,
  ) {}

  setup(db: ReadModelDb) {
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${this.name} (type TEXT PRIMARY KEY, n INTEGER)`,
    );
  }
  reset(db: ReadModelDb) {
    db.exec(`DELETE FROM ${this.name}`);
  }
  load(db: ReadModelDb) {
    const rows = db.prepare(`SELECT * FROM ${this.name}`).all() as {
      type: string;
      n: number;
    }[];
    this.counts = new Map(rows.map((r) => [r.type, r.n]));
  }
  fold(event: RecordedEvent) {
    if (event.type === this.throwOn) throw new Error('cannot fold this');
    this.folded.push(event.globalPosition);
    this.counts.set(event.type, (this.counts.get(event.type) ?? 0) + 1);
    return true;
  }
  flush(db: ReadModelDb) {
    const upsert = db.prepare(
      `INSERT OR REPLACE INTO ${this.name} VALUES (?, ?)`,
    );
    for (const [type, n] of this.counts) upsert.run(type, n);
  }
}

const count = (db: ReadModelDb, table: string) =>
  Object.fromEntries(
    (
      db.prepare(`SELECT * FROM ${table}`).all() as {
        type: string;
        n: number;
      }[]
    ).map((r) => [r.type, r.n]),
  );

const appendEvents = async (store: InMemoryEventStore, types: string[]) => {
  for (const type of types)
    await store.append('s', [{ type, data: {} }], 'any');
};

describe('ProjectionRuntime', () => {
  it('folds live events and commits them with the checkpoint', async () => {
    const store = new InMemoryEventStore();
    const db = openReadModelDb(':memory:');
    const runtime = new ProjectionRuntime({
      store,
      db,
      projections: [new CountingProjection('a')],
    });
    runtime.start();
    await appendEvents(store, ['X', 'Y', 'X']);
    expect(await runtime.waitFor(3n, 1000)).to.equal(true);
    expect(count(db, 'a')).to.deep.equal({ X: 2, Y: 1 });
    expect(runtime.checkpoint('a')).to.equal(3n);
    await runtime.stop();
  });

  /** Folds all of `store` into projection `a` in `db`, then stops. */
  const foldAll = async (store: InMemoryEventStore, db: ReadModelDb) => {
    const runtime = new ProjectionRuntime({
      store,
      db,
      projections: [new CountingProjection('a')],
    });
    await runtime.start();
    const head = await store.headPosition();
    expect(await runtime.waitFor(head, 1000)).to.equal(true);
    await runtime.stop();
  };

  /** Starts projection `a` over `store`, its error lines into `errors`. */
  const startLogging = async (
    store: InMemoryEventStore,
    db: ReadModelDb,
    errors: string[],
  ) => {
    const runtime = new ProjectionRuntime({
      store,
      db,
      projections: [new CountingProjection('a')],
      log: { info: () => undefined, error: (message) => errors.push(message) },
    });
    await runtime.start();
    return runtime;
  };

  it('folds again from the start a read model that is ahead of a replaced event log', async () => {
    const db = openReadModelDb(':memory:');
    const first = new InMemoryEventStore();
    await appendEvents(first, ['X', 'X', 'X', 'Y', 'Y']);
    await foldAll(first, db);

    // A new, shorter log under the same read models: its positions 1-2
    // are other events, which a checkpoint of 5 would silently skip.
    const replaced = new InMemoryEventStore();
    await appendEvents(replaced, ['Z', 'Z']);
    const errors: string[] = [];
    const after = await startLogging(replaced, db, errors);
    expect(await after.waitFor(2n, 1000)).to.equal(true);
    expect(count(db, 'a')).to.deep.equal({ Z: 2 });
    expect(after.checkpoint('a')).to.equal(2n);
    expect(errors).to.deep.equal([
      'read model a is at position 5 but the event log ends at 2; folding it again from the start',
    ]);
    await after.stop();
  });

  it('folds again from the start a read model folded from another, longer log', async () => {
    const db = openReadModelDb(':memory:');
    const first = new InMemoryEventStore();
    await appendEvents(first, ['X', 'X', 'X']);
    await foldAll(first, db);

    // Another history, longer than the checkpoint: position 3 exists, but
    // it is another event, so the checkpoint means nothing here.
    const other = new InMemoryEventStore();
    for (const type of ['Z', 'Z', 'Z', 'Z', 'Z', 'Z']) {
      await other.append('elsewhere', [{ type, data: {} }], 'any');
    }
    const errors: string[] = [];
    const after = await startLogging(other, db, errors);
    expect(await after.waitFor(6n, 1000)).to.equal(true);
    expect(count(db, 'a')).to.deep.equal({ Z: 6 });
    expect(errors).to.deep.equal([
      'read model a was folded from another event log (the event at position 3 is not the one it folded); folding it again from the start',
    ]);
    await after.stop();

    // Restarted over the log it now holds, it goes on from its checkpoint.
    const again = await startLogging(other, db, errors);
    expect(again.checkpoint('a')).to.equal(6n);
    expect(errors).to.have.length(1);
    await again.stop();
  });

  it('goes on from a checkpoint written before event identities were kept', async () => {
    const file = join(tempDir('old'), 'rm.db');
    const old = new Database(file);
    old.exec(`CREATE TABLE projection_checkpoints (
      name TEXT PRIMARY KEY, position INTEGER NOT NULL)`);
    old.exec(`INSERT INTO projection_checkpoints VALUES ('a', 2)`);
    old.close();
    const store = new InMemoryEventStore();
    await appendEvents(store, ['X', 'X', 'Y']);
    const db = openReadModelDb(file);
    const runtime = new ProjectionRuntime({
      store,
      db,
      projections: [new CountingProjection('a')],
    });
    await runtime.start();
    expect(await runtime.waitFor(3n, 1000)).to.equal(true);
    expect(count(db, 'a')).to.deep.equal({ Y: 1 }); // only what came after 2
    await runtime.stop();
    db.close();
  });

  it('applies an event delivered twice only once', async () => {
    const store = new InMemoryEventStore();
    await appendEvents(store, ['X', 'Y', 'X', 'Z', 'X', 'Y']);
    const db = openReadModelDb(':memory:');
    const projection = new CountingProjection('a');
    const runtime = new ProjectionRuntime({
      store: duplicatingStore(store),
      db,
      projections: [projection],
    });
    runtime.start();
    expect(await runtime.waitFor(6n, 1000)).to.equal(true);
    expect(projection.folded).to.deep.equal([1n, 2n, 3n, 4n, 5n, 6n]);
    expect(count(db, 'a')).to.deep.equal({ X: 3, Y: 2, Z: 1 });
    await runtime.stop();
  });

  it('resumes after a restart from its checkpoint, folding nothing twice', async () => {
    const store = new InMemoryEventStore();
    const file = join(tempDir('rm'), 'readmodels.db');
    await appendEvents(store, ['X', 'Y']);
    let db = openReadModelDb(file);
    let runtime = new ProjectionRuntime({
      store,
      db,
      projections: [new CountingProjection('a')],
    });
    runtime.start();
    await runtime.waitFor(2n, 1000);
    await runtime.stop();
    db.close();

    await appendEvents(store, ['X']);
    db = openReadModelDb(file);
    const second = new CountingProjection('a');
    runtime = new ProjectionRuntime({ store, db, projections: [second] });
    expect(runtime.checkpoint('a')).to.equal(2n);
    runtime.start();
    await runtime.waitFor(3n, 1000);
    expect(second.folded).to.deep.equal([3n]);
    expect(count(db, 'a')).to.deep.equal({ X: 2, Y: 1 });
    await runtime.stop();
    db.close();
  });

  it('stops a projection that throws with one log line naming the event, others go on', async () => {
    const store = new InMemoryEventStore();
    const db = openReadModelDb(':memory:');
    const lines: string[] = [];
    const runtime = new ProjectionRuntime({
      store,
      db,
      projections: [
        new CountingProjection('bad', 'Boom'),
        new CountingProjection('good'),
      ],
      log: { info: () => undefined, error: (msg) => lines.push(msg) },
      batchSize: 1,
    });
    runtime.start();
    await appendEvents(store, ['X', 'Boom', 'Y']);
    expect(await runtime.waitFor(3n, 1000, ['good'])).to.equal(true);
    expect(await runtime.waitFor(3n, 1000, ['bad'])).to.equal(false);
    expect(lines).to.deep.equal([
      'projection bad stopped at event 2 (Boom): cannot fold this',
    ]);
    const bad = runtime.statuses().find((s) => s.name === 'bad')!;
    expect(bad.state).to.equal('failed');
    expect(bad.checkpoint).to.equal(1n);
    expect(bad.failure).to.include({ globalPosition: 2n, type: 'Boom' });
    expect(count(db, 'bad')).to.deep.equal({ X: 1 });
    expect(count(db, 'good')).to.deep.equal({ X: 1, Boom: 1, Y: 1 });
    await runtime.stop();
  });

  it('commits the others when one projection fails to write its batch', async () => {
    const store = new InMemoryEventStore();
    const db = openReadModelDb(':memory:');
    const lines: string[] = [];
    const failing = new CountingProjection('failing');
    failing.flush = () => {
      throw new Error('disk says no');
    };
    const runtime = new ProjectionRuntime({
      store,
      db,
      projections: [failing, new CountingProjection('good')],
      log: { info: () => undefined, error: (msg) => lines.push(msg) },
    });
    runtime.start();
    await appendEvents(store, ['X', 'Y']);
    expect(await runtime.waitFor(2n, 1000, ['good'])).to.equal(true);
    expect(await runtime.waitFor(2n, 1000, ['failing'])).to.equal(false);
    expect(count(db, 'good')).to.deep.equal({ X: 1, Y: 1 });
    expect(count(db, 'failing')).to.deep.equal({});
    expect(runtime.checkpoint('failing')).to.equal(0n);
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(
      /^projection failing stopped at event \d \(\w\): disk says no$/,
    );
    await runtime.stop();
  });

  it('waits out another connection holding the read-model file, failing no projection', async () => {
    const store = new InMemoryEventStore();
    const file = join(tempDir('busy'), 'rm.db');
    const db = openReadModelDb(file, { busyTimeoutMs: 20 });
    const lines: string[] = [];
    const runtime = new ProjectionRuntime({
      store,
      db,
      projections: [new CountingProjection('a'), new CountingProjection('b')],
      log: { info: () => undefined, error: (msg) => lines.push(msg) },
    });
    runtime.start();
    await appendEvents(store, ['X']);
    expect(await runtime.waitFor(1n, 1000)).to.equal(true);

    const other = new Database(file, { timeout: 20 });
    other.exec('BEGIN IMMEDIATE');
    await appendEvents(store, ['Y']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(runtime.lowestCheckpoint()).to.equal(1n);
    other.exec('COMMIT');
    other.close();

    expect(await runtime.waitFor(2n, 5000)).to.equal(true);
    expect(runtime.statuses().map((s) => s.state)).to.deep.equal([
      'running',
      'running',
    ]);
    expect(count(db, 'a')).to.deep.equal({ X: 1, Y: 1 });
    expect(count(db, 'b')).to.deep.equal({ X: 1, Y: 1 });
    expect(lines.length).to.be.greaterThan(0);
    expect(lines[0]).to.equal('read-model database busy; retrying the batch');
    await runtime.stop();
    db.close();
  });

  it('rebuilds one projection from zero to the same tables', async () => {
    const store = new InMemoryEventStore();
    const db = openReadModelDb(':memory:');
    const runtime = new ProjectionRuntime({
      store,
      db,
      projections: [new CountingProjection('a'), new CountingProjection('b')],
    });
    runtime.start();
    await appendEvents(store, ['X', 'Y', 'X', 'Z']);
    await runtime.waitFor(4n, 1000);
    const before = snapshot(db);
    await runtime.rebuild('a');
    expect(snapshot(db)).to.deep.equal(before);
    await appendEvents(store, ['Y']);
    await runtime.waitFor(5n, 1000);
    expect(count(db, 'a')).to.deep.equal({ X: 2, Y: 2, Z: 1 });
    await runtime.stop();
  });

  it('waitFor answers false after its timeout', async () => {
    const store = new InMemoryEventStore();
    const runtime = new ProjectionRuntime({
      store,
      db: openReadModelDb(':memory:'),
      projections: [new CountingProjection('a')],
    });
    runtime.start();
    const started = Date.now();
    expect(await runtime.waitFor(1n, 50)).to.equal(false);
    expect(Date.now() - started).to.be.within(40, 500);
    expect(await runtime.waitFor(0n, 50)).to.equal(true);
    await runtime.stop();
  });
});
