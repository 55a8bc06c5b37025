import type { RecordedEvent } from '../application/eventStore';
import {
  STRATEGY_STATUS_CHANGED,
  StrategyStatusChangedData,
  SYSTEM_STREAM,
} from './alertEvents';
import type { Projection, ReadModelDb } from './projection';

/** Trading control as the read model sees it. */
export interface SystemView {
  paused: boolean;
  /** Status set by `StrategyStatusChanged`, per strategy. */
  strategyStatus: Map<string, string>;
}

/**
 * Whether trading is paused (`TradingPaused` / `TradingResumed`) and the
 * status each strategy was last given, from the `system` stream.
 */
export class SystemProjection implements Projection {
  readonly name = 'system';
  private paused = false;
  private pausedDirty = false;
  private readonly dirtyStatus = new Map<string, string>();

  setup(db: ReadModelDb): void {
    db.exec(`CREATE TABLE IF NOT EXISTS system_trading (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      paused INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS system_strategy_status (
      strategy TEXT PRIMARY KEY,
      status TEXT NOT NULL
    )`);
  }

  reset(db: ReadModelDb): void {
    db.exec('DELETE FROM system_trading; DELETE FROM system_strategy_status');
  }

  load(db: ReadModelDb): void {
    this.paused = readSystem(db).paused;
    this.pausedDirty = false;
    this.dirtyStatus.clear();
  }

  fold(event: RecordedEvent): boolean {
    if (event.streamId !== SYSTEM_STREAM) return false;
    switch (event.type) {
      case 'TradingPaused':
      case 'TradingResumed':
        this.paused = event.type === 'TradingPaused';
        this.pausedDirty = true;
        return true;
      case STRATEGY_STATUS_CHANGED: {
        const data = event.data as unknown as StrategyStatusChangedData;
        this.dirtyStatus.set(data.strategy, data.status);
        return true;
      }
      default:
        return false;
    }
  }

  flush(db: ReadModelDb): void {
    if (this.pausedDirty) {
      db.prepare(
        'INSERT OR REPLACE INTO system_trading (id, paused) VALUES (1, ?)',
      ).run(this.paused ? 1 : 0);
      this.pausedDirty = false;
    }
    const upsert = db.prepare(
      'INSERT OR REPLACE INTO system_strategy_status VALUES (?, ?)',
    );
    for (const [strategy, status] of this.dirtyStatus) {
      upsert.run(strategy, status);
    }
    this.dirtyStatus.clear();
  }
}

/** Reads the system read model. */
export const readSystem = (db: ReadModelDb): SystemView => {
  const trading = db.prepare('SELECT paused FROM system_trading').get() as
    { paused: number } | undefined;
  const rows = db
    .prepare('SELECT strategy, status FROM system_strategy_status')
    .all() as { strategy: string; status: string }[];
  return {
    paused: trading?.paused === 1,
    strategyStatus: new Map(rows.map((r) => [r.strategy, r.status])),
  };
};
