import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
} from 'prom-client';
import { Decimal } from '../../domain/money';
import { SUPPORTED_SYMBOLS } from '../../domain/market/symbols';

/** Order sides and statuses as label values: lowercase, as the spec shows. */
export interface OrderLabels {
  readonly symbol: string;
  readonly side: string;
  readonly status: string;
}

/** Mirai's metrics, held in a registry of their own. */
export interface MiraiMetrics {
  /** What `GET /api/metrics` serves. */
  readonly registry: Registry;
  readonly ordersTotal: Counter<'symbol' | 'side' | 'status'>;
  readonly pnlTotal: Gauge<'symbol'>;
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly websocketClients: Gauge;
  readonly eventStoreAppendDuration: Histogram;
  readonly projectionLag: Gauge<'projection'>;
  /**
   * Counts one order event; side and status are lowercased. A symbol
   * Mirai does not trade (a rejected order's, as the client spelt it) is
   * counted as `unsupported`: clients must not be able to add series.
   */
  recordOrder(labels: OrderLabels): void;
  /**
   * Adds a fill's realized PnL (decimal text) to `trading_pnl_total`.
   * Summed as decimals, so the gauge shows 0.3, not 0.30000000000000004.
   */
  recordRealizedPnl(symbol: string, realizedPnl: string): void;
  /**
   * Where `projection_lag_events` comes from: asked on every scrape, so
   * the gauge is never older than the scrape itself.
   */
  measureProjectionLag(source: () => Promise<ProjectionLag[]>): void;
}

/** How many events one projection is behind the head of the store. */
export interface ProjectionLag {
  readonly projection: string;
  readonly lag: number;
}

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Also collect Node's process metrics (CPU, memory, GC...); default true. */
  readonly collectDefault?: boolean;
}

/**
 * Builds a fresh registry with Mirai's metrics. It is not prom-client's
 * global registry, so tests and several servers in one process do not
 * collide.
 *
 * - `trading_orders_total{symbol,side,status}` counter
 * - `trading_pnl_total{symbol}` gauge, in quote currency (the spec's name;
 *   a gauge because PnL falls as well as rises)
 * - `http_request_duration_seconds{method,route,status_code}` histogram
 * - `websocket_clients` gauge
 * - `eventstore_append_duration_seconds` histogram
 * - `projection_lag_events{projection}` gauge: head minus checkpoint
 * - Node's default process metrics, unless `collectDefault` is false
 */
export const createMetrics = ({
  collectDefault = true,
}: MetricsOptions = {}): MiraiMetrics => {
  const registry = new Registry();
  if (collectDefault) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const ordersTotal = new Counter({
    name: 'trading_orders_total',
    help: 'Total number of trading orders',
    labelNames: ['symbol', 'side', 'status'] as const,
    registers,
  });

  const pnlTotal = new Gauge({
    name: 'trading_pnl_total',
    help: 'Total profit and loss in quote currency',
    labelNames: ['symbol'] as const,
    registers,
  });

  const httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Duration of HTTP requests in seconds',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });

  const websocketClients = new Gauge({
    name: 'websocket_clients',
    help: 'Number of connected WebSocket clients',
    registers,
  });

  const eventStoreAppendDuration = new Histogram({
    name: 'eventstore_append_duration_seconds',
    help: 'Duration of event store appends in seconds',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers,
  });

  let lagSource: () => Promise<ProjectionLag[]> = async () => [];
  const projectionLag = new Gauge({
    name: 'projection_lag_events',
    help: 'Events a projection is behind the head of the store',
    labelNames: ['projection'] as const,
    registers,
    async collect() {
      for (const { projection, lag } of await lagSource()) {
        this.set({ projection }, lag);
      }
    },
  });

  const realizedBySymbol = new Map<string, Decimal>();

  return {
    registry,
    ordersTotal,
    pnlTotal,
    httpRequestDuration,
    websocketClients,
    eventStoreAppendDuration,
    projectionLag,
    recordOrder: ({ symbol, side, status }) =>
      ordersTotal.inc({
        symbol: SUPPORTED_SYMBOLS.includes(symbol) ? symbol : 'unsupported',
        side: side.toLowerCase(),
        status: status.toLowerCase(),
      }),
    recordRealizedPnl: (symbol, realizedPnl) => {
      const total = (realizedBySymbol.get(symbol) ?? new Decimal(0)).plus(
        realizedPnl,
      );
      realizedBySymbol.set(symbol, total);
      pnlTotal.set({ symbol }, total.toNumber());
    },
    measureProjectionLag: (source) => {
      lagSource = source;
    },
  };
};
