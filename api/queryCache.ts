/** Options of `QueryCache`. */
export interface QueryCacheOptions {
  /** Most answers kept; the oldest goes first. Default 1,000. */
  maxItems?: number;
}

interface Entry {
  body: string;
  projections: readonly string[];
  /** Lowest checkpoint of those projections when the answer was computed. */
  position: bigint;
}

/** Counters of `QueryCache`, as the cache endpoints report them. */
export interface QueryCacheStats {
  hits: number;
  misses: number;
  requests: number;
  /** hits / requests; 0 before any request. */
  hitRate: number;
  items: number;
  maxItems: number;
  invalidatedByPattern: number;
  invalidatedByProjection: number;
  evicted: number;
  /** Items per route (the key up to `?`). */
  itemsByRoute: Record<string, number>;
}

/**
 * Serialized answers of read-model queries, keyed by route and query
 * string. An answer depends on the projections it read; it is dropped as
 * soon as one of them commits a batch that changed its read model, so a
 * hit is always what a fresh query would return.
 */
export class QueryCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxItems: number;
  private hits = 0;
  private misses = 0;
  private byPattern = 0;
  private byProjection = 0;
  private evicted = 0;

  constructor(options: QueryCacheOptions = {}) {
    this.maxItems = options.maxItems ?? 1_000;
  }

  /** The cached answer for `key`, counting a hit or a miss. */
  get(key: string): { body: string; position: bigint } | undefined {
    const entry = this.entries.get(key);
    if (entry) this.hits += 1;
    else this.misses += 1;
    return entry;
  }

  set(
    key: string,
    body: string,
    projections: readonly string[],
    position: bigint,
  ): void {
    this.entries.delete(key);
    this.entries.set(key, { body, projections, position });
    if (this.entries.size > this.maxItems) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.evicted += 1;
    }
  }

  /**
   * Drops the answers that read `projection`; called when it commits a
   * batch that changed its read model (or restarts at 0 for a rebuild).
   * Every such commit comes after the answers it drops were computed.
   */
  projectionChanged(projection: string): number {
    let dropped = 0;
    for (const [key, entry] of this.entries) {
      if (entry.projections.includes(projection)) {
        this.entries.delete(key);
        dropped += 1;
      }
    }
    this.byProjection += dropped;
    return dropped;
  }

  /**
   * Drops every answer whose key contains `pattern`, where `*` matches
   * any text; `*` alone drops everything. Returns how many went.
   */
  invalidate(pattern: string): number {
    const parts = pattern.split('*');
    let dropped = 0;
    for (const key of [...this.entries.keys()]) {
      if (containsGlob(key, parts)) {
        this.entries.delete(key);
        dropped += 1;
      }
    }
    this.byPattern += dropped;
    return dropped;
  }

  stats(): QueryCacheStats {
    const requests = this.hits + this.misses;
    const itemsByRoute: Record<string, number> = {};
    for (const key of this.entries.keys()) {
      const route = key.split('?')[0];
      itemsByRoute[route] = (itemsByRoute[route] ?? 0) + 1;
    }
    return {
      hits: this.hits,
      misses: this.misses,
      requests,
      hitRate: requests === 0 ? 0 : this.hits / requests,
      items: this.entries.size,
      maxItems: this.maxItems,
      invalidatedByPattern: this.byPattern,
      invalidatedByProjection: this.byProjection,
      evicted: this.evicted,
      itemsByRoute,
    };
  }
}

/**
 * Whether `text` contains a run matching the glob whose `*`-separated
 * parts are `parts` (`'a*b'.split('*')`), `*` matching any text. Each part
 * is found after the one before it, leftmost first: time linear in the
 * text, whatever the pattern, unlike a regular expression (`a.*a.*a.*b`
 * backtracks for seconds over a long key, and anyone can plant long keys
 * in the cache through the query string).
 */
export const containsGlob = (text: string, parts: readonly string[]) => {
  let from = 0;
  for (const part of parts) {
    const at = text.indexOf(part, from);
    if (at === -1) return false;
    from = at + part.length;
  }
  return true;
};
