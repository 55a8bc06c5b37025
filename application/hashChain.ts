import * as crypto from 'node:crypto';
import {
  AppendResult,
  EventData,
  EventStore,
  WrongExpectedVersionError,
} from './eventStore';

/** The hash a stream's first event chains from. */
export const GENESIS_HASH = '0'.repeat(64);

/** Who and what caused an event; stored in its metadata. */
export interface Causation {
  correlationId: string;
  causationId?: string;
  /** The acting user, or `system` for the engine itself. */
  user: string;
  /** The client's idempotency key of the order these events place. */
  idempotencyKey?: string;
  /** Hash of the order request the key came with. */
  requestHash?: string;
}

/**
 * JSON with object keys sorted, so equal events hash equally: exactly
 * what `JSON.stringify` writes for a copy of the value whose objects list
 * their keys in sorted order (integer-like keys first, ascending, as a JS
 * object orders them). Written directly rather than by copying the value
 * and stringifying the copy; events of one type share their key lists,
 * so each list's order, with its keys already quoted, is worked out once
 * and remembered. This runs twice for every order placed.
 */
export const canonicalJson = (value: unknown): string =>
  writeCanonical(value, '') as string;

interface KeyOrder {
  /** The key list as the object gave it. */
  keys: string[];
  /** The keys in canonical order. */
  order: string[];
  /** `"key":` for each key of `order`. */
  prefixes: string[];
}

const MAX_REMEMBERED_KEY_LISTS = 1_000;
/** Key lists seen, by their keys joined with NUL. */
const keyOrders = new Map<string, KeyOrder>();

const keyOrderOf = (record: object): KeyOrder => {
  const keys = Object.keys(record);
  const joined = keys.join('\u0000');
  const known = keyOrders.get(joined);
  // A key may hold NUL itself or be empty, so the join can be shared by
  // two different lists ([] and [""], say): the remembered order serves
  // only the very same list.
  if (
    known &&
    known.keys.length === keys.length &&
    known.keys.every((key, i) => key === keys[i])
  ) {
    return known;
  }
  // Inserted in sorted order, an object lists its keys as
  // JSON.stringify would write the sorted copy.
  const sorted: Record<string, true> = {};
  for (const key of [...keys].sort()) sorted[key] = true;
  const order = Object.keys(sorted);
  const found = {
    keys,
    order,
    prefixes: order.map((key) => `${JSON.stringify(key)}:`),
  };
  if (!known) {
    if (keyOrders.size >= MAX_REMEMBERED_KEY_LISTS) keyOrders.clear();
    keyOrders.set(joined, found);
  }
  return found;
};

/**
 * `value` as JSON.stringify writes it under `key`, objects' keys in
 * canonical order; undefined where JSON.stringify leaves a value out.
 */
const writeCanonical = (input: unknown, key: string): string | undefined => {
  let value = input;
  if (
    (typeof value === 'object' && value !== null) ||
    typeof value === 'function' ||
    typeof value === 'bigint'
  ) {
    const withJson = value as { toJSON?: (key: string) => unknown };
    if (typeof withJson.toJSON === 'function') value = withJson.toJSON(key);
  }
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return writeArray(value);
      // Boxed primitives (new Number(1)...) are written as their values.
      if (
        value instanceof Number ||
        value instanceof String ||
        value instanceof Boolean ||
        value instanceof BigInt
      ) {
        return JSON.stringify(value);
      }
      return writeObject(value as Record<string, unknown>);
    case 'bigint':
      // Throws, as JSON.stringify does.
      return JSON.stringify(value);
    default:
      // undefined, functions and symbols.
      return undefined;
  }
};

const writeArray = (items: unknown[]): string => {
  let out = '[';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ',';
    out += writeCanonical(items[i], String(i)) ?? 'null';
  }
  return `${out}]`;
};

const writeObject = (record: Record<string, unknown>): string => {
  const { order, prefixes } = keyOrderOf(record);
  let out = '{';
  let first = true;
  for (let i = 0; i < order.length; i++) {
    const written = writeCanonical(record[order[i]], order[i]);
    if (written === undefined) continue;
    out += first ? prefixes[i] + written : `,${prefixes[i]}${written}`;
    first = false;
  }
  return `${out}}`;
};

type OneShotHash = (algorithm: string, text: string, encoding: 'hex') => string;
// crypto.hash (Node 20.12+) hashes a string in one call, without the Hash
// object createHash builds: about a third of the time for an event.
const oneShotHash = (crypto as { hash?: OneShotHash }).hash;

/** SHA-256 of `text` (as UTF-8), in hex. */
export const sha256Hex: (text: string) => string = oneShotHash
  ? (text) => oneShotHash('sha256', text, 'hex')
  : (text) => crypto.createHash('sha256').update(text).digest('hex');

/** The hash of one event, chained to the hash of the event before it. */
export const eventHash = (
  prevHash: string,
  streamId: string,
  revision: bigint,
  type: string,
  data: unknown,
): string =>
  sha256Hex(
    prevHash + canonicalJson([streamId, revision.toString(), type, data]),
  );

/**
 * Adds metadata to events about to be appended at `firstRevision`:
 * causation, the domain-clock time and a per-stream hash chain, so an
 * auditor can prove no recorded event was edited or removed.
 * Returns the events and the hash of the last one.
 */
export const chainEvents = (
  streamId: string,
  firstRevision: bigint,
  prevHash: string,
  events: { type: string; data: object }[],
  causation: Causation,
  eventTime: string,
): { events: EventData[]; lastHash: string } => {
  let hash = prevHash;
  const chained = events.map((event, index) => {
    const previous = hash;
    hash = eventHash(
      previous,
      streamId,
      firstRevision + BigInt(index),
      event.type,
      event.data,
    );
    return {
      type: event.type,
      data: event.data as Record<string, unknown>,
      // Not `{ ...causation, eventTime, … }`: V8 adds properties after a
      // spread one by one on a slow path, about a microsecond each.
      metadata: Object.assign({} as Record<string, unknown>, causation, {
        eventTime,
        prevHash: previous,
        hash,
      }),
    };
  });
  return { events: chained, lastHash: hash };
};

/** Tries of {@link appendChained} before a lost race is given up. */
const CHAINED_APPEND_TRIES = 20;
/** Longest pause between two tries, ms. */
const CHAINED_APPEND_MAX_PAUSE_MS = 50;

/** A random pause, longer after each lost race, so racers fall apart. */
const pauseBeforeTry = (attempt: number) =>
  new Promise((resolve) =>
    setTimeout(
      resolve,
      Math.random() * Math.min(CHAINED_APPEND_MAX_PAUSE_MS, 2 ** attempt),
    ),
  );

/**
 * Appends events to a stream that several writers share, each writing
 * rarely (the `system` stream: the engine pauses and resumes, the alerts
 * process manager raises alerts): reads the stream's last event, chains
 * from its hash, and appends expecting its revision. A writer that lost
 * the race waits a random, growing pause (at most 50 ms) and tries
 * again, up to 20 times. An event written before streams were
 * chained has no hash; what follows it chains from the genesis hash.
 */
export const appendChained = async (
  store: EventStore,
  streamId: string,
  events: { type: string; data: object }[],
  causation: Causation,
  eventTime: string,
): Promise<AppendResult> => {
  for (let attempt = 1; ; attempt++) {
    const [last] = await store.readStream(streamId, {
      direction: 'backwards',
      maxCount: 1,
    });
    const prevHash =
      typeof last?.metadata.hash === 'string'
        ? last.metadata.hash
        : GENESIS_HASH;
    const chained = chainEvents(
      streamId,
      last ? last.revision + 1n : 0n,
      prevHash,
      events,
      causation,
      eventTime,
    );
    try {
      return await store.append(
        streamId,
        chained.events,
        last ? last.revision : 'no_stream',
      );
    } catch (error) {
      const lostRace = error instanceof WrongExpectedVersionError;
      if (!lostRace || attempt >= CHAINED_APPEND_TRIES) throw error;
      await pauseBeforeTry(attempt);
    }
  }
};
