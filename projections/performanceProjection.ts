import type { RecordedEvent } from '../application/eventStore';
import { Decimal, ZERO } from '../domain/money';
import { accountEventOf, DEFAULT_ACCOUNT_ID } from './accountStreams';
import type { Projection, ReadModelDb } from './projection';

/** Length of one performance bucket in the read model: an hour, in ms. */
export const HOUR_MS = 3_600_000;

interface HourBucket {
  /** Realized PnL (after fees) of the fills in this hour. */
  pnl: Decimal;
  trades: number;
  /** Wallet before the hour's first fill and after its last. */
  walletStart: Decimal;
  walletEnd: Decimal;
}

/** One interval of `readPerformance`. */
export interface PerformancePoint {
  /** Start of the interval, epoch ms (UTC). */
  start: number;
  pnl: Decimal;
  /** Wallet balance at the end of the interval. */
  equity: Decimal;
  trades: number;
}

export const hourOf = (isoTime: string): number => {
  const ms = Date.parse(isoTime);
  return ms - (ms % HOUR_MS);
};

/**
 * Fills per market-time hour (from each fill's `at`): realized PnL, fill
 * count and the wallet at the hour's end. Deposits move the wallet but
 * make no bucket of their own: they show from the next hour with a fill.
 */
export class PerformanceProjection implements Projection {
  readonly name = 'performance';
  private wallet = ZERO;
  private walletDirty = false;
  private buckets = new Map<number, HourBucket>();
  private readonly dirty = new Set<number>();

  constructor(private readonly accountId = DEFAULT_ACCOUNT_ID) {}

  setup(db: ReadModelDb): void {
    db.exec(`CREATE TABLE IF NOT EXISTS performance_hours (
      hour_start INTEGER PRIMARY KEY,
      pnl TEXT NOT NULL,
      trades INTEGER NOT NULL,
      wallet_start TEXT NOT NULL,
      wallet_end TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS performance_wallet (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      wallet TEXT NOT NULL
    )`);
  }

  reset(db: ReadModelDb): void {
    db.exec('DELETE FROM performance_hours; DELETE FROM performance_wallet');
  }

  load(db: ReadModelDb): void {
    this.wallet = currentWallet(db);
    this.walletDirty = false;
    this.buckets = new Map();
    this.dirty.clear();
    for (const row of db
      .prepare('SELECT * FROM performance_hours')
      .all() as HourRow[]) {
      this.buckets.set(row.hour_start, bucketOf(row));
    }
  }

  fold(event: RecordedEvent): boolean {
    const account = accountEventOf(event, this.accountId);
    if (account?.type === 'FundsDeposited') {
      this.wallet = this.wallet.add(account.data.amount);
      this.walletDirty = true;
      return true;
    }
    if (account?.type !== 'OrderFilled') return false;
    const fill = account.data;
    const hour = hourOf(fill.at);
    let bucket = this.buckets.get(hour);
    if (!bucket) {
      bucket = {
        pnl: ZERO,
        trades: 0,
        walletStart: this.wallet,
        walletEnd: this.wallet,
      };
      this.buckets.set(hour, bucket);
    }
    this.wallet = this.wallet.add(fill.cashDelta);
    bucket.pnl = bucket.pnl.add(fill.realizedPnl);
    bucket.trades += 1;
    bucket.walletEnd = this.wallet;
    this.walletDirty = true;
    this.dirty.add(hour);
    return true;
  }

  flush(db: ReadModelDb): void {
    if (this.walletDirty) {
      db.prepare(
        'INSERT OR REPLACE INTO performance_wallet (id, wallet) VALUES (1, ?)',
      ).run(this.wallet.toFixed());
      this.walletDirty = false;
    }
    if (this.dirty.size === 0) return;
    const upsert = db.prepare(
      `INSERT OR REPLACE INTO performance_hours
       (hour_start, pnl, trades, wallet_start, wallet_end)
       VALUES (?, ?, ?, ?, ?)`,
    );
    for (const hour of this.dirty) {
      const b = this.buckets.get(hour)!;
      upsert.run(
        hour,
        b.pnl.toFixed(),
        b.trades,
        b.walletStart.toFixed(),
        b.walletEnd.toFixed(),
      );
    }
    this.dirty.clear();
  }
}

interface HourRow {
  hour_start: number;
  pnl: string;
  trades: number;
  wallet_start: string;
  wallet_end: string;
}

const bucketOf = (row: HourRow): HourBucket => ({
  pnl: new Decimal(row.pnl),
  trades: row.trades,
  walletStart: new Decimal(row.wallet_start),
  walletEnd: new Decimal(row.wallet_end),
});

const currentWallet = (db: ReadModelDb): Decimal => {
  const row = db.prepare('SELECT wallet FROM performance_wallet').get() as
    { wallet: string } | undefined;
  return row ? new Decimal(row.wallet) : ZERO;
};

/**
 * Performance from `fromMs` (inclusive) to `toMs` (exclusive) in steps of
 * `intervalMs` (a whole number of hours; `fromMs` on an hour boundary).
 * An hour without fills has no PnL and carries the wallet forward.
 */
export const readPerformance = (
  db: ReadModelDb,
  fromMs: number,
  toMs: number,
  intervalMs: number,
): PerformancePoint[] => {
  const rows = db
    .prepare(
      `SELECT * FROM performance_hours WHERE hour_start >= ? AND hour_start < ?
       ORDER BY hour_start`,
    )
    .all(fromMs, toMs) as HourRow[];
  const before = db
    .prepare(
      `SELECT wallet_end FROM performance_hours WHERE hour_start < ?
       ORDER BY hour_start DESC LIMIT 1`,
    )
    .get(fromMs) as { wallet_end: string } | undefined;
  const after = db
    .prepare(
      `SELECT wallet_start FROM performance_hours WHERE hour_start >= ?
       ORDER BY hour_start LIMIT 1`,
    )
    .get(fromMs) as { wallet_start: string } | undefined;
  let equity = before
    ? new Decimal(before.wallet_end)
    : after
      ? new Decimal(after.wallet_start)
      : currentWallet(db);

  const byHour = new Map(rows.map((row) => [row.hour_start, bucketOf(row)]));
  const points: PerformancePoint[] = [];
  for (let start = fromMs; start < toMs; start += intervalMs) {
    let pnl = ZERO;
    let trades = 0;
    for (let hour = start; hour < start + intervalMs; hour += HOUR_MS) {
      const bucket = byHour.get(hour);
      if (!bucket) continue;
      pnl = pnl.add(bucket.pnl);
      trades += bucket.trades;
      equity = bucket.walletEnd;
    }
    points.push({ start, pnl, equity, trades });
  }
  return points;
};

/** Realized PnL of the fills dated in [fromMs, toMs). */
export const readRealizedPnl = (
  db: ReadModelDb,
  fromMs: number,
  toMs: number,
): Decimal => {
  const rows = db
    .prepare(
      'SELECT pnl FROM performance_hours WHERE hour_start >= ? AND hour_start < ?',
    )
    .all(fromMs, toMs) as { pnl: string }[];
  return rows.reduce((sum, row) => sum.add(row.pnl), ZERO);
};
