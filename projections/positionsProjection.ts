import type { RecordedEvent } from '../application/eventStore';
import type { PositionSide, PositionSnapshot } from '../domain/account';
import { Decimal } from '../domain/money';
import { accountEventOf, DEFAULT_ACCOUNT_ID } from './accountStreams';
import type { Projection, ReadModelDb } from './projection';

/** One open position as the read model stores it. */
export interface PositionRow {
  symbol: string;
  side: PositionSide;
  size: Decimal;
  entryPrice: Decimal;
  leverage: number;
}

/**
 * Open positions of one account, netted per symbol: each `OrderFilled`
 * carries the position as it stands after the fill, so the fold just keeps
 * the latest snapshot (or drops the symbol when the snapshot is null).
 */
export class PositionsProjection implements Projection {
  readonly name = 'positions';
  private open = new Map<string, PositionSnapshot>();
  private readonly dirty = new Set<string>();

  constructor(private readonly accountId = DEFAULT_ACCOUNT_ID) {}

  setup(db: ReadModelDb): void {
    db.exec(`CREATE TABLE IF NOT EXISTS positions (
      symbol TEXT PRIMARY KEY,
      side TEXT NOT NULL,
      size TEXT NOT NULL,
      entry_price TEXT NOT NULL,
      entry_fees TEXT NOT NULL,
      leverage INTEGER NOT NULL
    )`);
  }

  reset(db: ReadModelDb): void {
    db.exec('DELETE FROM positions');
  }

  load(db: ReadModelDb): void {
    this.open = new Map();
    this.dirty.clear();
    for (const row of selectPositions(db)) {
      this.open.set(row.symbol, {
        side: row.side,
        size: row.size,
        entryPrice: row.entry_price,
        entryFees: row.entry_fees,
        leverage: row.leverage,
      });
    }
  }

  fold(event: RecordedEvent): boolean {
    const account = accountEventOf(event, this.accountId);
    if (account?.type !== 'OrderFilled') return false;
    const { symbol, position } = account.data;
    if (position) this.open.set(symbol, position);
    else this.open.delete(symbol);
    this.dirty.add(symbol);
    return true;
  }

  flush(db: ReadModelDb): void {
    if (this.dirty.size === 0) return;
    const upsert = db.prepare(
      `INSERT OR REPLACE INTO positions
       (symbol, side, size, entry_price, entry_fees, leverage)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    const remove = db.prepare('DELETE FROM positions WHERE symbol = ?');
    for (const symbol of this.dirty) {
      const p = this.open.get(symbol);
      if (!p) remove.run(symbol);
      else
        upsert.run(
          symbol,
          p.side,
          p.size,
          p.entryPrice,
          p.entryFees,
          p.leverage,
        );
    }
    this.dirty.clear();
  }
}

interface PositionTableRow {
  symbol: string;
  side: PositionSide;
  size: string;
  entry_price: string;
  entry_fees: string;
  leverage: number;
}

const selectPositions = (db: ReadModelDb): PositionTableRow[] =>
  db
    .prepare('SELECT * FROM positions ORDER BY symbol')
    .all() as PositionTableRow[];

/** Reads the open positions, by symbol. */
export const readPositions = (db: ReadModelDb): PositionRow[] =>
  selectPositions(db).map((row) => ({
    symbol: row.symbol,
    side: row.side,
    size: new Decimal(row.size),
    entryPrice: new Decimal(row.entry_price),
    leverage: row.leverage,
  }));
