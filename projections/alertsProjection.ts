import type { RecordedEvent } from '../application/eventStore';
import { ALERT_RAISED, AlertRaisedData, SYSTEM_STREAM } from './alertEvents';
import type { Projection, ReadModelDb } from './projection';

/** Every `AlertRaised` of the `system` stream, one row each. */
export class AlertsProjection implements Projection {
  readonly name = 'alerts';
  private pending: [bigint, AlertRaisedData][] = [];

  setup(db: ReadModelDb): void {
    db.exec(`CREATE TABLE IF NOT EXISTS alerts (
      id TEXT PRIMARY KEY,
      position INTEGER NOT NULL,
      type TEXT NOT NULL,
      severity TEXT NOT NULL,
      message TEXT NOT NULL,
      symbol TEXT,
      at TEXT NOT NULL
    )`);
  }

  reset(db: ReadModelDb): void {
    db.exec('DELETE FROM alerts');
  }

  load(): void {
    this.pending = [];
  }

  fold(event: RecordedEvent): boolean {
    if (event.streamId !== SYSTEM_STREAM || event.type !== ALERT_RAISED) {
      return false;
    }
    this.pending.push([
      event.globalPosition,
      event.data as unknown as AlertRaisedData,
    ]);
    return true;
  }

  flush(db: ReadModelDb): void {
    if (this.pending.length === 0) return;
    // OR IGNORE: the process manager never repeats an id, but a hand-made
    // duplicate must not stop the projection.
    const insert = db.prepare(
      `INSERT OR IGNORE INTO alerts
       (id, position, type, severity, message, symbol, at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const [position, a] of this.pending) {
      insert.run(a.id, position, a.type, a.severity, a.message, a.symbol, a.at);
    }
    this.pending = [];
  }
}

/** An alert as `GET /api/alerts` shows it. */
export type AlertView = Omit<AlertRaisedData, 'sourcePosition'>;

/** Reads the newest `limit` alerts, newest first. */
export const readAlerts = (db: ReadModelDb, limit: number): AlertView[] =>
  db
    .prepare(
      `SELECT id, type, severity, message, symbol, at
       FROM alerts ORDER BY position DESC LIMIT ?`,
    )
    .all(limit) as AlertView[];
