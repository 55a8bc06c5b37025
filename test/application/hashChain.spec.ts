import { createHash } from 'node:crypto';
import { expect } from 'chai';
import {
  appendChained,
  canonicalJson,
  eventHash,
  GENESIS_HASH,
  sha256Hex,
} from '../../application/hashChain';
import { Decimal } from '../../domain/money';
import { InMemoryEventStore } from '../../infrastructure/eventStore';
import { expectChained } from '../support/hashChain';

// Written by the first version of the chain (a JSON.stringify replacer
// that sorted every object's keys). Chains already on disk were hashed
// this way, so any faster form must give the same bytes.
const RECORDED = {
  data: {
    orderId: 'ab12',
    price: '58479.23',
    position: { size: '0.003', side: 'LONG', leverage: 1 },
    closedPosition: false,
    parentOrderId: null,
    skipped: undefined,
    '10': 'ten',
    '2': 'two',
    é: 'accent',
    Z: 'upper',
    list: [{ b: 1, a: 2 }, null, 'x'],
  },
  json:
    '["account-main","7","OrderFilled",{"2":"two","10":"ten","Z":"upper",' +
    '"closedPosition":false,"list":[{"a":2,"b":1},null,"x"],"orderId":"ab12",' +
    '"parentOrderId":null,"position":{"leverage":1,"side":"LONG","size":"0.003"},' +
    '"price":"58479.23","é":"accent"}]',
  hash: '26e94d189dc2f1bbb87e80cd431235ca74ae383341e2a7c65330020b5b1622b6',
};

describe('hash chain', () => {
  it('writes the canonical form chains on disk were hashed with', () => {
    const value = ['account-main', '7', 'OrderFilled', RECORDED.data];
    expect(canonicalJson(value)).to.equal(RECORDED.json);
    expect(
      eventHash(GENESIS_HASH, 'account-main', 7n, 'OrderFilled', RECORDED.data),
    ).to.equal(RECORDED.hash);
  });

  it('hashes text as SHA-256 of its UTF-8 bytes, in hex', () => {
    // FIPS 180-2's example, and one past ASCII.
    expect(sha256Hex('abc')).to.equal(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(sha256Hex('é')).to.equal(
      createHash('sha256').update(Buffer.from('é', 'utf8')).digest('hex'),
    );
  });

  it('hashes equal events equally whatever order their keys were written in', () => {
    const a = { price: '1.5', side: 'BUY', nested: { y: 1, x: 2 } };
    const b = { nested: { x: 2, y: 1 }, side: 'BUY', price: '1.5' };
    // Twice each: the second time the remembered key order is used.
    for (let i = 0; i < 2; i++) {
      expect(canonicalJson(a)).to.equal(canonicalJson(b));
      expect(eventHash(GENESIS_HASH, 's', 0n, 'T', a)).to.equal(
        eventHash(GENESIS_HASH, 's', 0n, 'T', b),
      );
    }
    expect(eventHash(GENESIS_HASH, 's', 0n, 'T', a)).not.to.equal(
      eventHash(GENESIS_HASH, 's', 0n, 'T', { ...a, side: 'SELL' }),
    );
  });

  it('writes values with toJSON (a Decimal) as JSON.stringify does', () => {
    expect(
      canonicalJson({ b: new Decimal('0.1'), a: [new Decimal(2)] }),
    ).to.equal('{"a":["2"],"b":"0.1"}');
  });

  it('never mixes up two key lists, whatever characters the keys hold', () => {
    // Joined with a separator, ["b", "a"] and ["b\u0000a"] would look alike.
    expect(canonicalJson({ b: 1, a: 2 })).to.equal('{"a":2,"b":1}');
    expect(canonicalJson({ 'b\u0000a': 4 })).to.equal('{"b\\u0000a":4}');
    // The empty list and the list of one empty key join alike.
    expect(canonicalJson({})).to.equal('{}');
    expect(canonicalJson({ '': 1 })).to.equal('{"":1}');
    expect(canonicalJson({ 'a,b': 1, c: 2 })).to.equal('{"a,b":1,"c":2}');
    expect(canonicalJson({ a: 1, 'b","c': 2 })).to.equal(
      '{"a":1,"b\\",\\"c":2}',
    );
  });

  it('hands toJSON the key it is written under, as JSON.stringify does', () => {
    const keyed = { toJSON: (key: string) => `under ${key}` };
    const value = { z: keyed, list: [keyed] };
    expect(canonicalJson(value)).to.equal(
      JSON.stringify({ list: [keyed], z: keyed }),
    );
    expect(canonicalJson(value)).to.equal('{"list":["under 0"],"z":"under z"}');
  });

  it('writes what a key-sorting JSON.stringify replacer writes, for any value', () => {
    // The first version of the chain: a replacer that sorts each object.
    const reference = (value: unknown) =>
      JSON.stringify(value, (_key, v: unknown) =>
        v !== null && typeof v === 'object' && !Array.isArray(v)
          ? Object.fromEntries(
              Object.keys(v)
                .sort()
                .map((k) => [k, (v as Record<string, unknown>)[k]]),
            )
          : v,
      );
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(items: T[]): T =>
      items[Math.floor(random() * items.length)];
    const KEYS = [
      'a',
      'b',
      'Z',
      '10',
      '2',
      '0',
      'é',
      'b\u0000a',
      'x"y',
      '-1',
      '1.5',
      '',
    ];
    const LEAVES: unknown[] = [
      'plain',
      'quote " and \\ slash',
      'line\nbreak',
      '\u0001',
      '\ud800',
      'ü',
      0,
      -0,
      1.5,
      -2e-7,
      1e21,
      NaN,
      Infinity,
      true,
      false,
      null,
      undefined,
      () => 1,
      new Decimal('0.10'),
      new Date(0),
      Symbol('s'),
    ];
    const valueOf = (depth: number): unknown => {
      const roll = random();
      if (depth > 3 || roll < 0.5) return pick(LEAVES);
      if (roll < 0.7) {
        return Array.from({ length: Math.floor(random() * 4) }, () =>
          valueOf(depth + 1),
        );
      }
      const record: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 6); i > 0; i--) {
        record[pick(KEYS)] = valueOf(depth + 1);
      }
      return record;
    };
    for (let i = 0; i < 2_000; i++) {
      const value = valueOf(0);
      expect(canonicalJson(value), String(i)).to.equal(reference(value));
    }
  });

  it('stays right past the number of key lists it remembers', () => {
    for (let i = 0; i < 2_500; i++) {
      const record = { [`k${i}`]: i, a: 0 };
      expect(canonicalJson(record)).to.equal(`{"a":0,"k${i}":${i}}`);
    }
  });
});

describe('appendChained (a stream several writers share)', () => {
  const causation = { correlationId: 'c1', user: 'tester' };
  const at = '2026-12-04T00:00:00.000Z';
  const event = (n: number) => ({ type: 'Noted', data: { n } });

  it("chains each append to the stream's last event", async () => {
    const store = new InMemoryEventStore();
    await appendChained(store, 'system', [event(1), event(2)], causation, at);
    await appendChained(store, 'system', [event(3)], causation, at);
    const events = await store.readStream('system');
    expect(events.map((e) => e.revision)).to.deep.equal([0n, 1n, 2n]);
    expectChained(events);
    expect(events[2].metadata).to.include({
      correlationId: 'c1',
      user: 'tester',
      eventTime: at,
    });
  });

  it('keeps the chain whole when writers race', async () => {
    const store = new InMemoryEventStore();
    await Promise.all(
      [1, 2, 3, 4].map((n) =>
        appendChained(store, 'system', [event(n)], causation, at),
      ),
    );
    const events = await store.readStream('system');
    expect(events).to.have.length(4);
    expectChained(events);
  });

  it('outlasts a writer that wins the race ten times in a row', async () => {
    const store = new InMemoryEventStore();
    // Before each of its first ten appends, another writer gets in first.
    let interruptions = 10;
    const racing = Object.create(store) as InMemoryEventStore;
    racing.append = async (streamId, events, expected) => {
      if (interruptions-- > 0) {
        await appendChained(store, streamId, [event(-1)], causation, at);
      }
      return store.append(streamId, events, expected);
    };
    await appendChained(racing, 'system', [event(1)], causation, at);
    const events = await store.readStream('system');
    expect(events.map((e) => e.data.n)).to.deep.equal([
      ...Array(10).fill(-1),
      1,
    ]);
    expectChained(events);
  });

  it('starts from the genesis hash after an event that has none', async () => {
    const store = new InMemoryEventStore();
    await store.append('system', [event(0)], 'no_stream');
    await appendChained(store, 'system', [event(1)], causation, at);
    const [, chained] = await store.readStream('system');
    expectChained([chained]);
  });
});
