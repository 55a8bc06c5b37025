import { expect } from 'chai';
import { Subscription } from 'rxjs';
import {
  EventData,
  EventStore,
  RecordedEvent,
  WrongExpectedVersionError,
} from '../../../application/eventStore';

/** A store under test and how to dispose of it. */
export interface EventStoreFixture {
  store: EventStore;
  /** Closes `store` and opens the same data again (durable adapters only). */
  reopen?: () => Promise<EventStore>;
  /** Releases everything the fixture created. */
  cleanup: () => Promise<void>;
}

export type EventStoreFactory = (options: {
  initialPosition?: bigint;
}) => Promise<EventStoreFixture>;

const event = (type: string, n = 0): EventData => ({
  type,
  data: { n, price: '64250.10' },
  metadata: { correlationId: `c-${n}` },
});

const events = (count: number, type = 'Ticked'): EventData[] =>
  Array.from({ length: count }, (_, n) => event(type, n));

/** A unique stream name, so tests against a shared server do not collide. */
const streamName = (name: string): string =>
  `${name}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

const expectWrongVersion = async (
  attempt: Promise<unknown>,
  actual: bigint | 'no_stream',
): Promise<void> => {
  const error = await attempt.then(
    () => expect.fail('append should have failed'),
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(WrongExpectedVersionError);
  expect((error as WrongExpectedVersionError).actual).to.equal(actual);
};

const ofStream = (all: RecordedEvent[], streamId: string) =>
  all.filter((e) => e.streamId === streamId);

/**
 * The behaviour every `EventStore` adapter must have. `factory` makes a
 * fresh, empty store for each test (a shared server is allowed: tests use
 * unique stream names and positions relative to the head).
 */
export const eventStoreContract = (
  name: string,
  factory: EventStoreFactory,
): void => {
  describe(`${name} event store contract`, function () {
    let fixture: EventStoreFixture;
    let store: EventStore;

    beforeEach(async () => {
      fixture = await factory({});
      store = fixture.store;
    });
    afterEach(async () => fixture.cleanup());

    describe('append with an expected revision', () => {
      it('creates a stream when expecting no_stream', async () => {
        const s = streamName('account');
        const result = await store.append(s, events(2), 'no_stream');
        expect(result.nextExpectedRevision).to.equal(1n);
        expect(result.lastPosition > result.firstPosition).to.equal(true);
        const read = await store.readStream(s);
        expect(read.map((e) => e.revision)).to.deep.equal([0n, 1n]);
        expect(read[0].data).to.deep.equal({ n: 0, price: '64250.10' });
        expect(read[0].metadata).to.deep.equal({ correlationId: 'c-0' });
        expect(read[0].streamId).to.equal(s);
        expect(Number.isNaN(Date.parse(read[0].recordedAt))).to.equal(false);
      });

      it('rejects no_stream when the stream exists, with its revision', async () => {
        const s = streamName('account');
        await store.append(s, events(3), 'no_stream');
        await expectWrongVersion(store.append(s, events(1), 'no_stream'), 2n);
      });

      it('appends with any whether or not the stream exists', async () => {
        const s = streamName('account');
        await store.append(s, events(1), 'any');
        const result = await store.append(s, events(1), 'any');
        expect(result.nextExpectedRevision).to.equal(1n);
      });

      it('appends with stream_exists to an existing stream', async () => {
        const s = streamName('account');
        await store.append(s, events(1), 'no_stream');
        const result = await store.append(s, events(1), 'stream_exists');
        expect(result.nextExpectedRevision).to.equal(1n);
      });

      it('rejects stream_exists on a missing stream as no_stream', async () => {
        const s = streamName('account');
        await expectWrongVersion(
          store.append(s, events(1), 'stream_exists'),
          'no_stream',
        );
        expect(await store.readStream(s)).to.deep.equal([]);
      });

      it('appends at the exact revision of the last event', async () => {
        const s = streamName('account');
        const first = await store.append(s, events(2), 'no_stream');
        const second = await store.append(
          s,
          events(1),
          first.nextExpectedRevision,
        );
        expect(second.nextExpectedRevision).to.equal(2n);
        expect(second.firstPosition > first.lastPosition).to.equal(true);
      });

      it('rejects a stale exact revision with the actual one', async () => {
        const s = streamName('account');
        await store.append(s, events(3), 'no_stream');
        await expectWrongVersion(store.append(s, events(1), 1n), 2n);
      });

      it('rejects an exact revision on a missing stream as no_stream', async () => {
        const s = streamName('account');
        await expectWrongVersion(store.append(s, events(1), 0n), 'no_stream');
      });

      it('writes nothing when the expected revision is wrong', async () => {
        const s = streamName('account');
        await store.append(s, events(2), 'no_stream');
        const headBefore = await store.headPosition();
        const allBefore = await store.readAll({ fromPosition: 1n });

        await expectWrongVersion(store.append(s, events(5), 0n), 1n);

        expect(await store.headPosition()).to.equal(headBefore);
        expect((await store.readStream(s)).length).to.equal(2);
        const allAfter = await store.readAll({ fromPosition: 1n });
        expect(ofStream(allAfter, s)).to.deep.equal(ofStream(allBefore, s));
      });

      it('appends a multi-event batch atomically with consecutive revisions', async () => {
        const s = streamName('account');
        const result = await store.append(s, events(10), 'no_stream');
        const all = ofStream(
          await store.readAll({ fromPosition: result.firstPosition }),
          s,
        );
        expect(all.map((e) => e.revision)).to.deep.equal(
          Array.from({ length: 10 }, (_, i) => BigInt(i)),
        );
        expect(all[0].globalPosition).to.equal(result.firstPosition);
        expect(all[9].globalPosition).to.equal(result.lastPosition);

        await expectWrongVersion(store.append(s, events(10), 'no_stream'), 9n);
        expect((await store.readStream(s)).length).to.equal(10);
      });

      it('lets exactly one of two racing writers win a revision', async () => {
        const s = streamName('account');
        await store.append(s, events(1), 'no_stream');
        const outcomes = await Promise.allSettled([
          store.append(s, [event('OrderPlaced', 1)], 0n),
          store.append(s, [event('OrderPlaced', 2)], 0n),
        ]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter(
          (o): o is PromiseRejectedResult => o.status === 'rejected',
        );
        expect(won).to.have.length(1);
        expect(lost).to.have.length(1);
        expect(lost[0].reason).to.be.instanceOf(WrongExpectedVersionError);
        expect(lost[0].reason.actual).to.equal(1n);
        expect((await store.readStream(s)).length).to.equal(2);
      });

      it('fails only the wrong append among concurrent ones', async () => {
        const streams = Array.from({ length: 20 }, () => streamName('acc'));
        const outcomes = await Promise.allSettled(
          streams.map((s, i) =>
            store.append(s, events(1), i === 7 ? 'stream_exists' : 'no_stream'),
          ),
        );
        outcomes.forEach((o, i) =>
          expect(o.status).to.equal(i === 7 ? 'rejected' : 'fulfilled'),
        );
        expect(await store.readStream(streams[7])).to.deep.equal([]);
        expect((await store.readStream(streams[8])).length).to.equal(1);
      });
    });

    describe('readStream', () => {
      let s: string;
      beforeEach(async () => {
        s = streamName('market-BTCUSDT');
        await store.append(s, events(10), 'no_stream');
      });

      it('reads forwards from a revision with maxCount', async () => {
        const read = await store.readStream(s, { from: 3n, maxCount: 4 });
        expect(read.map((e) => e.revision)).to.deep.equal([3n, 4n, 5n, 6n]);
      });

      it('reads backwards from the end by default', async () => {
        const read = await store.readStream(s, {
          direction: 'backwards',
          maxCount: 3,
        });
        expect(read.map((e) => e.revision)).to.deep.equal([9n, 8n, 7n]);
      });

      it('reads backwards from a revision', async () => {
        const read = await store.readStream(s, {
          direction: 'backwards',
          from: 2n,
        });
        expect(read.map((e) => e.revision)).to.deep.equal([2n, 1n, 0n]);
      });

      it('reads an unknown stream as empty', async () => {
        expect(await store.readStream(streamName('nothing'))).to.deep.equal([]);
      });
    });

    describe('readAll', () => {
      it('reads from a position (inclusive) with maxCount, in order', async () => {
        const s = streamName('signals');
        const first = await store.append(s, events(10), 'no_stream');
        const all = await store.readAll({ fromPosition: first.firstPosition });
        const mine = ofStream(all, s);
        expect(mine.map((e) => e.revision)).to.deep.equal(
          Array.from({ length: 10 }, (_, i) => BigInt(i)),
        );

        const fifth = mine[4].globalPosition;
        const page = await store.readAll({ fromPosition: fifth, maxCount: 3 });
        expect(page).to.have.length(3);
        expect(page[0].globalPosition).to.equal(fifth);
        expect(page.map((e) => e.revision)).to.deep.equal([4n, 5n, 6n]);
        for (let i = 1; i < all.length; i++) {
          expect(all[i].globalPosition > all[i - 1].globalPosition).to.equal(
            true,
          );
        }
      });

      it('reports the head position of the last event', async () => {
        const result = await store.append(
          streamName('system'),
          events(3),
          'no_stream',
        );
        expect(await store.headPosition()).to.equal(result.lastPosition);
      });
    });

    describe('subscribeAll', () => {
      it('delivers catch-up then live with no gap and no duplicate while appends continue', async function () {
        this.timeout(60_000);
        const streams = Array.from({ length: 10 }, () => streamName('live'));
        const revisions = new Map<string, bigint | 'no_stream'>(
          streams.map((s) => [s, 'no_stream']),
        );
        const appendBatch = async (round: number, size: number) => {
          const s = streams[round % streams.length];
          const result = await store.append(
            s,
            events(size, `Round${round}`),
            revisions.get(s)!,
          );
          revisions.set(s, result.nextExpectedRevision);
          return result;
        };

        // Half before subscribing…
        let firstPosition: bigint | undefined;
        for (let round = 0; round < 100; round++) {
          const result = await appendBatch(round, 10);
          firstPosition ??= result.firstPosition;
        }
        const received: RecordedEvent[] = [];
        const mine = new Set(streams);
        let resolveDone: () => void;
        const done = new Promise<void>((r) => (resolveDone = r));
        let failure: unknown;
        const subscription = store
          .subscribeAll({ fromPosition: firstPosition })
          .subscribe({
            next: (e) => {
              if (!mine.has(e.streamId)) return;
              received.push(e);
              if (received.length === 2_000) resolveDone();
            },
            error: (e: unknown) => {
              failure = e;
              resolveDone();
            },
          });

        // …and half while the subscription is catching up.
        for (let round = 100; round < 200; round += 5) {
          await Promise.all(
            [0, 1, 2, 3, 4].map((k) => appendBatch(round + k, 10)),
          );
        }
        await done;
        subscription.unsubscribe();

        expect(failure).to.equal(undefined);
        expect(received).to.have.length(2_000);
        for (let i = 1; i < received.length; i++) {
          expect(
            received[i].globalPosition > received[i - 1].globalPosition,
          ).to.equal(true);
        }
        for (const s of streams) {
          const revisionsSeen = received
            .filter((e) => e.streamId === s)
            .map((e) => e.revision);
          expect(revisionsSeen).to.deep.equal(
            Array.from({ length: 200 }, (_, i) => BigInt(i)),
          );
        }
      });

      it('starts at fromPosition inclusive', async () => {
        const s = streamName('from');
        const result = await store.append(s, events(5), 'no_stream');
        const third = result.firstPosition + 2n;
        const all = await store.readAll({ fromPosition: result.firstPosition });
        const wanted = ofStream(all, s).filter(
          (e) => e.globalPosition >= third,
        );
        const received = await collect(store, third, wanted.length);
        expect(received.map((e) => e.revision)).to.deep.equal(
          wanted.map((e) => e.revision),
        );
      });

      it('stops delivering after unsubscribe', async () => {
        const s = streamName('unsub');
        const first = await store.append(s, events(1), 'no_stream');
        const received: RecordedEvent[] = [];
        let subscription: Subscription | undefined;
        await new Promise<void>((resolve) => {
          subscription = store
            .subscribeAll({ fromPosition: first.firstPosition })
            .subscribe((e) => {
              if (e.streamId !== s) return;
              received.push(e);
              resolve();
            });
        });
        subscription!.unsubscribe();
        await store.append(s, events(3), 0n);
        await new Promise((r) => setTimeout(r, 300));
        expect(received).to.have.length(1);
      });
    });

    it('keeps every event and revision after close and reopen', async function () {
      if (fixture.reopen === undefined) return this.skip();
      const s = streamName('durable');
      await store.append(s, events(3), 'no_stream');
      const before = await store.readAll();
      const reopened = await fixture.reopen();
      expect(await reopened.readAll()).to.deep.equal(before);
      const next = await reopened.append(s, events(1), 2n);
      expect(next.nextExpectedRevision).to.equal(3n);
      await expectWrongVersion(reopened.append(s, events(1), 2n), 3n);
    });

    describe('positions past 2^53', () => {
      let big: EventStoreFixture;
      beforeEach(async () => {
        big = await factory({ initialPosition: 2n ** 53n - 2n });
      });
      afterEach(async () => big.cleanup());

      it('keeps positions exact beyond Number.MAX_SAFE_INTEGER', async function () {
        const s = streamName('big');
        const result = await big.store.append(s, events(5), 'no_stream');
        const start = 2n ** 53n - 2n;
        // A server that picks its own positions cannot be started there.
        if (result.firstPosition !== start) return this.skip();
        const read = await big.store.readAll({
          fromPosition: result.firstPosition,
        });
        const positions = ofStream(read, s).map((e) => e.globalPosition);
        expect(positions).to.deep.equal([
          start,
          start + 1n,
          start + 2n,
          start + 3n,
          start + 4n,
        ]);

        for (const position of positions) {
          // The JSON edge carries decimal strings, which survive…
          const json = JSON.stringify({ p: position.toString() });
          expect(BigInt(JSON.parse(json).p)).to.equal(position);
        }
        // …whereas a JS number would have merged 2^53 and 2^53 + 1.
        expect(Number(positions[3])).to.equal(Number(positions[2]));
        expect(BigInt(Number(positions[3]))).to.not.equal(positions[3]);

        const page = await big.store.readAll({
          fromPosition: positions[3],
          maxCount: 1,
        });
        expect(page[0].globalPosition).to.equal(positions[3]);
        const live = await collect(big.store, positions[4], 1);
        expect(live[0].globalPosition).to.equal(positions[4]);
      });
    });
  });
};

/** The first `count` events from `fromPosition`, through subscribeAll. */
const collect = (
  store: EventStore,
  fromPosition: bigint,
  count: number,
): Promise<RecordedEvent[]> =>
  new Promise((resolve, reject) => {
    const received: RecordedEvent[] = [];
    const subscription: Subscription = store
      .subscribeAll({ fromPosition })
      .subscribe({
        next: (e) => {
          received.push(e);
          if (received.length === count) {
            setImmediate(() => subscription.unsubscribe());
            resolve(received);
          }
        },
        error: reject,
      });
  });
