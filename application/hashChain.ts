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
 * their keys in sorted order. Events of one type share their key lists,
 * so the sorted order of each list is worked out once and remembered;
 * this runs twice for every order placed.
 */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(sortedCopy(value, ''));

const MAX_REMEMBERED_KEY_LISTS = 1_000;
/** Key lists seen, by their keys joined with NUL: the list, then sorted. */
const sortedKeyLists = new Map<string, { keys: string[]; sorted: string[] }>();

const sortedKeys = (record: object): string[] => {
  const keys = Object.keys(record);
  const joined = keys.join('\u0000');
  const known = sortedKeyLists.get(joined);
  // A key may hold NUL itself, so the join can be shared by two different
  // lists: the remembered order serves only the very same list.
  if (known && known.keys.every((key, i) => key === keys[i])) {
    return known.sorted;
  }
  const sorted = [...keys].sort();
  if (!known) {
    if (sortedKeyLists.size >= MAX_REMEMBERED_KEY_LISTS) sortedKeyLists.clear();
    sortedKeyLists.set(joined, { keys, sorted });
  }
  return sorted;
};

/** `value` as JSON.stringify sees it under `key`, objects' keys sorted. */
const sortedCopy = (value: unknown, key: string): unknown => {
  let current = value;
  const withJson = current as { toJSON?: (key: string) => unknown } | null;
  if (typeof withJson?.toJSON === 'function') current = withJson.toJSON(key);
  if (typeof current !== 'object' || current === null) return current;
  if (Array.isArray(current)) {
    return current.map((item, index) => sortedCopy(item, String(index)));
  }
  const record = current as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const name of sortedKeys(record)) {
    copy[name] = sortedCopy(record[name], name);
  }
  return copy;
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
const CHAINED_APPEND_TRIES = 5;

/**
 * Appends events to a stream that several writers share, each writing
 * rarely (the `system` stream: the engine pauses and resumes, the alerts
 * process manager raises alerts): reads the stream's last event, chains
 * from its hash, and appends expecting its revision. A writer that lost
 * the race reads again and retries. An event written before streams were
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
    }
  }
};
