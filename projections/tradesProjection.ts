import type { RecordedEvent } from '../application/eventStore';
import type { OrderFilled } from '../domain/account';
import { accountEventOf, DEFAULT_ACCOUNT_ID } from './accountStreams';
import type { Projection, ReadModelDb } from './projection';

/** One fill as the trades read model stores it; amounts are decimal text. */
export interface TradeRow {
  tradeId: number;
  orderId: string;
  symbol: string;
  side: string;
  price: string;
  quantity: string;
  fee: string;
  realizedPnl: string;
  at: string;
  strategy: string;
}

/** Filters of `readTrades`. */
export interface TradeQuery {
  /** Most rows returned, newest first. */
  limit: number;
  symbol?: string;
  strategy?: string;
}

/** Every fill of one account, one row each, newest first when read. */
export class TradesProjection implements Projection {
  readonly name = 'trades';
  private pending: OrderFilled['data'][] = [];

  constructor(private readonly accountId = DEFAULT_ACCOUNT_ID) {}

  setup(db: ReadModelDb): void {
    db.exec(`CREATE TABLE IF NOT EXISTS trades (
      trade_id INTEGER PRIMARY KEY,
      order_id TEXT NOT NULL,
      symbol TEXT NOT NULL,
      side TEXT NOT NULL,
      price TEXT NOT NULL,
      quantity TEXT NOT NULL,
      fee TEXT NOT NULL,
      realized_pnl TEXT NOT NULL,
      at TEXT NOT NULL,
      strategy TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS trades_by_symbol ON trades (symbol, trade_id);
    CREATE INDEX IF NOT EXISTS trades_by_strategy
      ON trades (strategy, trade_id)`);
  }

  reset(db: ReadModelDb): void {
    db.exec('DELETE FROM trades');
  }

  load(): void {
    this.pending = [];
  }

  fold(event: RecordedEvent): boolean {
    const account = accountEventOf(event, this.accountId);
    if (account?.type !== 'OrderFilled') return false;
    this.pending.push(account.data);
    return true;
  }

  flush(db: ReadModelDb): void {
    if (this.pending.length === 0) return;
    const insert = db.prepare(
      `INSERT OR REPLACE INTO trades (trade_id, order_id, symbol, side,
       price, quantity, fee, realized_pnl, at, strategy)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const f of this.pending) {
      insert.run(
        f.tradeId,
        f.orderId,
        f.symbol,
        f.side,
        f.price,
        f.quantity,
        f.fee,
        f.realizedPnl,
        f.at,
        f.strategy,
      );
    }
    this.pending = [];
  }
}

/** Reads fills newest first, filtered by symbol and strategy. */
export const readTrades = (db: ReadModelDb, query: TradeQuery): TradeRow[] => {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.symbol !== undefined) {
    where.push('symbol = ?');
    params.push(query.symbol);
  }
  if (query.strategy !== undefined) {
    where.push('strategy = ?');
    params.push(query.strategy);
  }
  const rows = db
    .prepare(
      `SELECT * FROM trades
       ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
       ORDER BY trade_id DESC LIMIT ?`,
    )
    .all(...params, query.limit) as {
    trade_id: number;
    order_id: string;
    symbol: string;
    side: string;
    price: string;
    quantity: string;
    fee: string;
    realized_pnl: string;
    at: string;
    strategy: string;
  }[];
  return rows.map((r) => ({
    tradeId: r.trade_id,
    orderId: r.order_id,
    symbol: r.symbol,
    side: r.side,
    price: r.price,
    quantity: r.quantity,
    fee: r.fee,
    realizedPnl: r.realized_pnl,
    at: r.at,
    strategy: r.strategy,
  }));
};
