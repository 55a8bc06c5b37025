/**
 * Event store adapters: SQLite (the embedded default), in-memory (tests and
 * backtests) and EventStoreDB, plus `openEventStore` to pick one from
 * configuration.
 */
import { EventStore } from '../../application/eventStore';
import { EventStoreDbEventStore } from './eventStoreDbEventStore';
import { InMemoryEventStore } from './inMemoryEventStore';
import { SqliteEventStore } from './sqliteEventStore';

export * from './eventStoreDbEventStore';
export * from './inMemoryEventStore';
export * from './sqliteEventStore';

/** Which event store to open, and where. */
export interface EventStoreConfig {
  kind: 'sqlite' | 'memory' | 'eventstoredb';
  /** SQLite database file. Default `./data/events.db`. */
  path?: string;
  /** EventStoreDB connection string; required for `eventstoredb`. */
  connectionString?: string;
  /** SQLite only; see `SqliteEventStoreOptions.durability`. */
  durability?: 'full' | 'normal';
  /** SQLite only; see `SqliteEventStoreOptions.writer`. */
  writer?: 'inline' | 'thread';
}

/** Opens the event store that `config` describes. */
export const openEventStore = async (
  config: EventStoreConfig,
): Promise<EventStore> => {
  switch (config.kind) {
    case 'memory':
      return new InMemoryEventStore();
    case 'sqlite':
      return new SqliteEventStore({
        path: config.path ?? './data/events.db',
        durability: config.durability,
        writer: config.writer,
      });
    case 'eventstoredb':
      if (config.connectionString === undefined) {
        throw new Error('eventstoredb needs a connectionString');
      }
      return new EventStoreDbEventStore({
        connectionString: config.connectionString,
      });
  }
};
