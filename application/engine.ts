import type { Observable } from 'rxjs';
import type { OpenOrder } from '../domain/account';
import type { Candle } from '../domain/market/candle';
import type { OrderOutcome, OrderRequest } from './tradingEngine';

/** One account event of an order, as metrics count it. */
export interface OrderActivity {
  symbol: string;
  /** `BUY`, `SELL`, or `none` for a cancel recorded without its side. */
  side: string;
  status: 'placed' | 'rejected' | 'filled' | 'cancelled';
  /** Realized PnL of a fill, USDT; null for other events. */
  realizedPnl: string | null;
}

/**
 * The trading engine as the API and the composition root use it, whether
 * it runs on the HTTP thread (`TradingEngine`) or on a thread of its own
 * (`EngineThread`). Every command is answered once its events are
 * durable.
 */
export interface Engine {
  readonly accountId: string;
  placeOrder(request: OrderRequest): Promise<OrderOutcome>;
  /** Cancels an open order; resolves to the global position written. */
  cancelOrder(orderId: string, user: string): Promise<bigint>;
  /** Pauses or resumes trading; resolves to the global position written. */
  setPaused(paused: boolean, user: string): Promise<bigint>;
  /** Records a closed candle; false when it was not newer than the last. */
  ingestCandle(candle: Candle): Promise<boolean>;
  /** The account's open orders, oldest first. */
  openOrders(): Promise<OpenOrder[]>;
  /** Each symbol's newest recorded candle: where a feed resumes. */
  lastCandles(): Promise<Candle[]>;
  /** Market time as ISO-8601 (wall time before the first candle). */
  nowIso(): string;
  /** Each order event, once it is durable. */
  readonly activity: Observable<OrderActivity>;
  /** Lets commands already taken finish; later ones fail. */
  stop(): Promise<void>;
  /** False once the engine can take no more commands (its thread died). */
  isRunning(): boolean;
}

const STATUS_OF: Record<string, OrderActivity['status'] | undefined> = {
  OrderPlaced: 'placed',
  OrderRejected: 'rejected',
  OrderFilled: 'filled',
  OrderCancelled: 'cancelled',
};

/** What metrics count of appended account events. */
export const orderActivityOf = (
  events: { type: string; data: Record<string, unknown> }[],
): OrderActivity[] => {
  const activity: OrderActivity[] = [];
  for (const event of events) {
    const status = STATUS_OF[event.type];
    const symbol = event.data.symbol;
    if (!status || typeof symbol !== 'string') continue;
    activity.push({
      symbol,
      side: typeof event.data.side === 'string' ? event.data.side : 'none',
      status,
      realizedPnl:
        status === 'filled' ? String(event.data.realizedPnl ?? '0') : null,
    });
  }
  return activity;
};
