import { createHash } from 'node:crypto';
import type { EventData } from './eventStore';

/** The hash a stream's first event chains from. */
export const GENESIS_HASH = '0'.repeat(64);

/** Who and what caused an event; stored in its metadata. */
export interface Causation {
  correlationId: string;
  causationId?: string;
  /** The acting user, or `system` for the engine itself. */
  user: string;
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
const sortedKeyLists = new Map<string, string[]>();

const sortedKeys = (record: object): string[] => {
  const keys = Object.keys(record);
  // JSON of the list: no two different lists share it.
  const list = JSON.stringify(keys);
  let sorted = sortedKeyLists.get(list);
  if (sorted === undefined) {
    sorted = keys.sort();
    if (sortedKeyLists.size >= MAX_REMEMBERED_KEY_LISTS) sortedKeyLists.clear();
    sortedKeyLists.set(list, sorted);
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

export const eventHash = (
  prevHash: string,
  streamId: string,
  revision: bigint,
  type: string,
  data: unknown,
): string =>
  createHash('sha256')
    .update(prevHash)
    .update(canonicalJson([streamId, revision.toString(), type, data]))
    .digest('hex');

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
      metadata: { ...causation, eventTime, prevHash: previous, hash },
    };
  });
  return { events: chained, lastHash: hash };
};
