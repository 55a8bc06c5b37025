import type { RecordedEvent } from '../application/eventStore';
import { Decimal, ZERO } from '../domain/money';
import { accountEventOf, DEFAULT_ACCOUNT_ID } from './accountStreams';
import type { Projection, ReadModelDb } from './projection';

/** Closed round trips of one strategy (or of all, under `total`). */
export interface TripStats {
  trips: number;
  /** Trips whose summed realized PnL (after fees) is above zero. */
  wins: number;
}

/** Round trip statistics per strategy, and every strategy seen in a fill. */
export interface RoundTripsView {
  total: TripStats;
  strategies: Map<string, TripStats>;
}

interface OpenTrip {
  strategy: string;
  pnl: Decimal;
}

/**
 * Round trips: from the fill that opens a position to the fill that brings
 * it back to zero (`closedPosition`). A trip's result is the sum of the
 * realized PnL of its fills, partial closes included, so fees on both legs
 * count; a trip belongs to the strategy of its opening fill. A trip that
 * ends exactly at zero (break-even) is not a win.
 */
export class RoundTripsProjection implements Projection {
  readonly name = 'roundTrips';
  private open = new Map<string, OpenTrip>();
  private stats = new Map<string, TripStats>();
  private readonly dirtyTrips = new Set<string>();
  private readonly dirtyStats = new Set<string>();

  constructor(private readonly accountId = DEFAULT_ACCOUNT_ID) {}

  setup(db: ReadModelDb): void {
    db.exec(`CREATE TABLE IF NOT EXISTS round_trip_stats (
      strategy TEXT PRIMARY KEY,
      trips INTEGER NOT NULL,
      wins INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS round_trips_open (
      symbol TEXT PRIMARY KEY,
      strategy TEXT NOT NULL,
      pnl TEXT NOT NULL
    )`);
  }

  reset(db: ReadModelDb): void {
    db.exec('DELETE FROM round_trip_stats; DELETE FROM round_trips_open');
  }

  load(db: ReadModelDb): void {
    this.stats = readRoundTrips(db).strategies;
    this.open = new Map();
    this.dirtyTrips.clear();
    this.dirtyStats.clear();
    const rows = db.prepare('SELECT * FROM round_trips_open').all() as {
      symbol: string;
      strategy: string;
      pnl: string;
    }[];
    for (const row of rows) {
      this.open.set(row.symbol, {
        strategy: row.strategy,
        pnl: new Decimal(row.pnl),
      });
    }
  }

  fold(event: RecordedEvent): boolean {
    const account = accountEventOf(event, this.accountId);
    if (account?.type !== 'OrderFilled') return false;
    const fill = account.data;
    const trip = this.open.get(fill.symbol) ?? {
      strategy: fill.strategy,
      pnl: ZERO,
    };
    trip.pnl = trip.pnl.add(fill.realizedPnl);
    const stats = this.statsOf(trip.strategy);
    this.statsOf(fill.strategy);
    if (fill.closedPosition) {
      stats.trips += 1;
      if (trip.pnl.gt(0)) stats.wins += 1;
      this.dirtyStats.add(trip.strategy);
      // A fill that closes and reverses opens the next trip at once.
      if (fill.position) {
        this.open.set(fill.symbol, { strategy: fill.strategy, pnl: ZERO });
      } else this.open.delete(fill.symbol);
    } else {
      this.open.set(fill.symbol, trip);
    }
    this.dirtyTrips.add(fill.symbol);
    return true;
  }

  private statsOf(strategy: string): TripStats {
    let stats = this.stats.get(strategy);
    if (!stats) {
      stats = { trips: 0, wins: 0 };
      this.stats.set(strategy, stats);
      this.dirtyStats.add(strategy);
    }
    return stats;
  }

  flush(db: ReadModelDb): void {
    if (this.dirtyStats.size > 0) {
      const upsert = db.prepare(
        'INSERT OR REPLACE INTO round_trip_stats VALUES (?, ?, ?)',
      );
      for (const strategy of this.dirtyStats) {
        const s = this.stats.get(strategy)!;
        upsert.run(strategy, s.trips, s.wins);
      }
      this.dirtyStats.clear();
    }
    if (this.dirtyTrips.size === 0) return;
    const upsert = db.prepare(
      'INSERT OR REPLACE INTO round_trips_open VALUES (?, ?, ?)',
    );
    const remove = db.prepare('DELETE FROM round_trips_open WHERE symbol = ?');
    for (const symbol of this.dirtyTrips) {
      const trip = this.open.get(symbol);
      if (trip) upsert.run(symbol, trip.strategy, trip.pnl.toFixed());
      else remove.run(symbol);
    }
    this.dirtyTrips.clear();
  }
}

/** Reads round trip statistics. */
export const readRoundTrips = (db: ReadModelDb): RoundTripsView => {
  const rows = db
    .prepare('SELECT * FROM round_trip_stats ORDER BY strategy')
    .all() as { strategy: string; trips: number; wins: number }[];
  const total: TripStats = { trips: 0, wins: 0 };
  const strategies = new Map<string, TripStats>();
  for (const row of rows) {
    strategies.set(row.strategy, { trips: row.trips, wins: row.wins });
    total.trips += row.trips;
    total.wins += row.wins;
  }
  return { total, strategies };
};
