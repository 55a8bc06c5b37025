import { Decimal, ZERO } from '../domain/money';
import { readAccount } from './accountProjection';
import { AlertView, readAlerts } from './alertsProjection';
import { MarketView, readMarket } from './marketProjection';
import {
  HOUR_MS,
  PerformancePoint,
  readPerformance,
  readRealizedPnl,
} from './performanceProjection';
import { readPositions } from './positionsProjection';
import type { ReadModelDb } from './projection';
import { RiskLevel, riskLevel } from './riskLevel';
import { readRoundTrips, TripStats } from './roundTripsProjection';
import { readSystem } from './systemProjection';
import { readTrades, TradeQuery, TradeRow } from './tradesProjection';

const DAY_MS = 24 * HOUR_MS;

/** An open position valued at the latest candle's close. */
export interface PositionView {
  symbol: string;
  side: string;
  size: Decimal;
  entryPrice: Decimal;
  /** Close of the newest candle; the entry price before any candle. */
  markPrice: Decimal;
  unrealizedPnl: Decimal;
  /** Notional at entry over leverage. */
  marginUsed: Decimal;
  leverage: number;
}

/** The account valued at mark prices. */
export interface AccountView {
  accountId: string;
  currency: string;
  deposits: Decimal;
  wallet: Decimal;
  unrealizedPnl: Decimal;
  /** Wallet plus unrealized PnL. */
  equity: Decimal;
  /** Margin of open positions plus margin reserved by resting orders. */
  marginUsed: Decimal;
  /** Wallet minus margin used: what new orders may still commit. */
  availableForOrders: Decimal;
  realizedPnl: Decimal;
  fees: Decimal;
  openPositions: number;
  openOrders: number;
  fills: number;
}

/** Everything `GET /api/trading/status` shows. */
export interface StatusView {
  isActive: boolean;
  balance: { total: Decimal; available: Decimal; used: Decimal };
  dailyPnl: Decimal;
  /** Percent of closed round trips that won; 0 when none closed. */
  winRate: Decimal;
  riskLevel: RiskLevel;
  strategies: { name: string; status: string; winRate: Decimal }[];
  /** Market time the figures are as of (epoch ms), null before any candle. */
  clockMs: number | null;
}

/**
 * Which projections each query reads, so that a reader can wait for (and
 * a cache can depend on) exactly those.
 */
export const QUERY_PROJECTIONS = {
  positions: ['market', 'positions'],
  trades: ['trades'],
  account: ['market', 'positions', 'account'],
  status: [
    'market',
    'positions',
    'account',
    'performance',
    'roundTrips',
    'system',
  ],
  performance: ['market', 'performance'],
  alerts: ['alerts', 'alertsManager'],
} as const satisfies Record<string, readonly string[]>;

export type QueryName = keyof typeof QUERY_PROJECTIONS;

const winRateOf = (stats: TripStats | undefined): Decimal =>
  stats && stats.trips > 0
    ? new Decimal(stats.wins).div(stats.trips).mul(100).toDecimalPlaces(2)
    : ZERO;

/** Queries over the read models; amounts stay decimals. */
export class ReadModelQueries {
  constructor(
    private readonly db: ReadModelDb,
    private readonly accountId?: string,
  ) {}

  market(): MarketView {
    return readMarket(this.db);
  }

  positions(market = this.market()): PositionView[] {
    return readPositions(this.db).map((p) => {
      const mark = market.prices.get(p.symbol)?.close ?? p.entryPrice;
      const sign = p.side === 'LONG' ? 1 : -1;
      return {
        symbol: p.symbol,
        side: p.side,
        size: p.size,
        entryPrice: p.entryPrice,
        markPrice: mark,
        unrealizedPnl: mark.sub(p.entryPrice).mul(p.size).mul(sign),
        marginUsed: p.size.mul(p.entryPrice).div(p.leverage),
        leverage: p.leverage,
      };
    });
  }

  trades(query: TradeQuery): TradeRow[] {
    return readTrades(this.db, query);
  }

  account(): AccountView {
    const positions = this.positions();
    const account = readAccount(this.db, this.accountId);
    let unrealized = ZERO;
    let margin = account.reservedMargin;
    for (const p of positions) {
      unrealized = unrealized.add(p.unrealizedPnl);
      margin = margin.add(p.marginUsed);
    }
    return {
      accountId: account.accountId,
      currency: account.currency,
      deposits: account.deposits,
      wallet: account.wallet,
      unrealizedPnl: unrealized,
      equity: account.wallet.add(unrealized),
      marginUsed: margin,
      availableForOrders: account.wallet.sub(margin),
      realizedPnl: account.realizedPnl,
      fees: account.fees,
      openPositions: positions.length,
      openOrders: account.openOrders,
      fills: account.fills,
    };
  }

  status(): StatusView {
    const account = this.account();
    const { clockMs } = this.market();
    let dailyPnl = ZERO;
    if (clockMs !== null) {
      const dayStart = clockMs - (clockMs % DAY_MS);
      dailyPnl = readRealizedPnl(this.db, dayStart, dayStart + DAY_MS);
    }
    const trips = readRoundTrips(this.db);
    const system = readSystem(this.db);
    const names = new Set([
      ...trips.strategies.keys(),
      ...system.strategyStatus.keys(),
    ]);
    const strategies = [...names].sort().map((name) => ({
      name,
      status:
        system.strategyStatus.get(name) ??
        (system.paused ? 'paused' : 'active'),
      winRate: winRateOf(trips.strategies.get(name)),
    }));
    return {
      isActive: !system.paused,
      balance: {
        total: account.equity,
        available: account.equity.sub(account.marginUsed),
        used: account.marginUsed,
      },
      dailyPnl,
      winRate: winRateOf(trips.total),
      riskLevel: riskLevel(account.marginUsed, account.equity),
      strategies,
      clockMs,
    };
  }

  /**
   * Performance in `intervalMs` steps (default one hour) over [fromMs,
   * toMs). A missing end lies 24 intervals from the other; with neither,
   * the range ends with the market clock's current hour.
   */
  performance(
    range: { fromMs?: number; toMs?: number; intervalMs?: number } = {},
  ): PerformancePoint[] {
    const intervalMs = range.intervalMs ?? HOUR_MS;
    const span = 24 * intervalMs;
    let { fromMs, toMs } = range;
    if (fromMs === undefined && toMs === undefined) {
      const { clockMs } = this.market();
      if (clockMs === null) return [];
      toMs = clockMs - (clockMs % intervalMs) + intervalMs;
    }
    toMs ??= fromMs! + span;
    fromMs ??= toMs - span;
    return readPerformance(this.db, fromMs, toMs, intervalMs);
  }

  alerts(limit: number): AlertView[] {
    return readAlerts(this.db, limit);
  }
}
