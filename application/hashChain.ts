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

/** JSON with object keys sorted, so equal events hash equally. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, inner: unknown) => {
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) {
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(inner).sort()) {
        sorted[key] = (inner as Record<string, unknown>)[key];
      }
      return sorted;
    }
    return inner;
  });

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
