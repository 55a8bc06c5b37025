import { performance } from 'node:perf_hooks';
import {
  defaultEngineConfig,
  TradingEngine,
} from '../application/tradingEngine';
import { Decimal } from '../domain/money';
import { InMemoryEventStore } from '../infrastructure/eventStore';
import { silentLogger } from '../infrastructure/logging/logger';
import type { BenchFigure } from './eventStoreBench';
import { median, round } from './stats';

const RUNS = 3;
const RESTING = 10_000;
const ORDERS = 5_000;

/**
 * What one MARKET order costs the engine (decide, fill, hash chain,
 * append to the in-memory store) with no resting orders and with 10,000
 * resting LIMIT orders, measured in the same run. The account keeps its
 * totals beside the open orders, so the two should be about equal.
 */
export async function runEngineBench(): Promise<BenchFigure[]> {
  const bare: number[] = [];
  const crowded: number[] = [];
  await microsPerOrder(0); // warm-up: JIT
  for (let run = 0; run < RUNS; run++) {
    bare.push(await microsPerOrder(0));
    crowded.push(await microsPerOrder(RESTING));
  }
  return [
    {
      bench: 'engine_market_order',
      unit: 'µs/order',
      median: round(median(bare)),
      runs: bare.map(round),
      resting_orders: 0,
    },
    {
      bench: 'engine_market_order_with_resting_orders',
      unit: 'µs/order',
      median: round(median(crowded)),
      runs: crowded.map(round),
      resting_orders: RESTING,
      ratio_to_no_resting_orders: round(median(crowded) / median(bare)),
    },
  ];
}

const microsPerOrder = async (resting: number): Promise<number> => {
  const engine = new TradingEngine(new InMemoryEventStore(), silentLogger, {
    ...defaultEngineConfig(),
    initialBalance: new Decimal('1000000000'),
  });
  await engine.start();
  const now = Date.now();
  await engine.ingestCandle({
    symbol: 'BTCUSDT',
    interval: '1h',
    openTime: now - 3_600_000,
    closeTime: now - 1,
    open: new Decimal(58000),
    high: new Decimal(58500),
    low: new Decimal(57900),
    close: new Decimal(58450),
    volume: new Decimal(10),
  });
  for (let i = 0; i < resting; i++) {
    const ladder = (30000 + (i % 20000)).toString();
    await engine.placeOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      price: ladder,
      quantity: '0.001',
      user: 'bench',
    });
  }
  const started = performance.now();
  for (let i = 0; i < ORDERS; i++) {
    const outcome = await engine.placeOrder({
      symbol: 'BTCUSDT',
      side: i % 2 === 0 ? 'BUY' : 'SELL',
      type: 'MARKET',
      quantity: '0.001',
      user: 'bench',
    });
    if (outcome.status !== 'FILLED') {
      throw new Error(`bench order ended ${outcome.status}`);
    }
  }
  return ((performance.now() - started) * 1000) / ORDERS;
};
