import { expect } from 'chai';
import { expectChained } from '../support/hashChain';
import {
  defaultEngineConfig,
  TradingEngine,
} from '../../application/tradingEngine';
import { Decimal } from '../../domain/money';
import { hourCandle } from '../support/candles';
import {
  InMemoryEventStore,
  SqliteEventStore,
} from '../../infrastructure/eventStore';
import path from 'node:path';
import { silentLogger } from '../../infrastructure/logging/logger';
import { tempDir } from '../support/tempDirs';

const candle = hourCandle;

const config = () => ({
  ...defaultEngineConfig(),
  exchange: {
    slippageRate: new Decimal(0),
    takerFeeRate: new Decimal('0.001'),
    makerFeeRate: new Decimal('0.001'),
  },
});

const startEngine = async (store: InMemoryEventStore) => {
  const engine = new TradingEngine(store, silentLogger, config());
  await engine.start();
  return engine;
};

const order = (fields: Record<string, unknown>) => ({
  symbol: 'BTCUSDT',
  side: 'BUY',
  type: 'MARKET',
  quantity: 0.1,
  user: 'tester',
  ...fields,
});

/** The account's fills as stored: the engine keeps no copy of them. */
const fills = async (store: InMemoryEventStore) =>
  (await store.readStream('account-main'))
    .filter((e) => e.type === 'OrderFilled')
    .map((e) => e.data);

describe('trading engine', () => {
  let store: InMemoryEventStore;
  let engine: TradingEngine;

  beforeEach(async () => {
    store = new InMemoryEventStore();
    engine = await startEngine(store);
    await engine.ingestCandle(candle(0, 50000, 50000, 50000, 50000));
  });

  it('deposits the starting balance once, not again on restart', async () => {
    await startEngine(store);
    const deposits = (await store.readStream('account-main')).filter(
      (e) => e.type === 'FundsDeposited',
    );
    expect(deposits.map((e) => e.data.amount)).to.deep.equal(['10000']);
  });

  it('closes a long at its take-profit and cancels the stop-loss', async () => {
    const placed = await engine.placeOrder(
      order({ stopLoss: 48000, takeProfit: 53000 }),
    );
    expect(placed.status).to.equal('FILLED');
    expect(engine.accountState().openOrders.size).to.equal(2);

    await engine.ingestCandle(candle(1, 50000, 52000, 49000, 51000)); // neither
    expect(engine.accountState().openOrders.size).to.equal(2);
    await engine.ingestCandle(candle(2, 51000, 53500, 50500, 53200)); // TP

    const state = engine.accountState();
    expect(state.positions.size).to.equal(0);
    expect(state.openOrders.size).to.equal(0);
    const exit = (await fills(store))[1];
    expect(exit).to.deep.include({
      price: '53000',
      liquidity: 'maker',
      role: 'take_profit',
    });
    // (53,000 - 50,000) * 0.1 = 300, minus fees 5.3 and 5 = 289.7
    expect(exit.realizedPnl).to.equal('289.7');
    expect(state.walletBalance.toString()).to.equal('10289.7');
  });

  it('stops a short out above its entry', async () => {
    await engine.placeOrder(order({ side: 'SELL', stopLoss: 51000 }));
    await engine.ingestCandle(candle(1, 50000, 49900, 49000, 49500)); // price falls: nothing
    expect(engine.accountState().positions.get('BTCUSDT')?.side).to.equal(
      'SHORT',
    );
    await engine.ingestCandle(candle(2, 49500, 51500, 49400, 51200));
    const exit = (await fills(store))[1];
    expect(exit).to.deep.include({
      side: 'BUY',
      price: '51000',
      role: 'stop_loss',
    });
    // (50,000 - 51,000) * 0.1 = -100, minus fees 5.1 and 5 = -110.1
    expect(exit.realizedPnl).to.equal('-110.1');
  });

  it('ignores a candle delivered twice', async () => {
    await engine.placeOrder(order({ type: 'LIMIT', price: 49000 }));
    const again = candle(1, 50000, 50000, 48000, 49000);
    expect(await engine.ingestCandle(again)).to.equal(true);
    expect(await engine.ingestCandle(again)).to.equal(false);
    expect(await store.readStream('market-BTCUSDT')).to.have.length(2);
    expect(await fills(store)).to.have.length(1);
  });

  it('comes back with the same account, orders and prices after a restart', async () => {
    await engine.placeOrder(order({ stopLoss: 48000 }));
    await engine.placeOrder(
      order({ type: 'LIMIT', price: 45000, quantity: 0.01 }),
    );
    const restarted = await startEngine(store);
    const before = engine.accountState();
    const after = restarted.accountState();
    expect(after.walletBalance.toString()).to.equal(
      before.walletBalance.toString(),
    );
    expect([...after.openOrders.keys()]).to.deep.equal([
      ...before.openOrders.keys(),
    ]);
    expect(after.positions.get('BTCUSDT')?.size.toString()).to.equal('0.1');
    expect(restarted.prices.lastPrice('BTCUSDT')?.toString()).to.equal('50000');
  });

  it('pipelines concurrent orders into contiguous revisions with an intact hash chain', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, () =>
        engine.placeOrder(order({ quantity: 0.001 })),
      ),
    );
    expect(outcomes.every((o) => o.status === 'FILLED')).to.equal(true);
    const events = await store.readStream('account-main');
    events.forEach((event, index) => {
      expect(event.revision).to.equal(BigInt(index));
    });
    expectChained(events);
    expect(
      engine.accountState().positions.get('BTCUSDT')?.size.toString(),
    ).to.equal('0.1');
  });

  it('chains its pause and resume events, with who did it', async () => {
    await engine.setPaused(true, 'tester');
    await engine.setPaused(false, 'tester');
    const events = await store.readStream('system');
    expect(events.map((e) => e.type)).to.deep.equal([
      'TradingPaused',
      'TradingResumed',
    ]);
    expectChained(events);
    expect(events[0].metadata.user).to.equal('tester');
    expect(events[0].metadata.correlationId).to.be.a('string');
  });

  it('writes pauses and resumes sent at once one after another, none refused', async () => {
    // SQLite checks expected revisions at commit, after every racer has
    // read the stream: racing writers would land in a shuffled order.
    const sqlite = new SqliteEventStore({
      path: path.join(tempDir('engine'), 'e.db'),
    });
    const engine = new TradingEngine(sqlite, silentLogger, config());
    await engine.start();
    const wanted = Array.from({ length: 20 }, (_, i) => i % 3 === 0);
    await Promise.all(
      wanted.map((paused) => engine.setPaused(paused, 'tester')),
    );
    const events = await sqlite.readStream('system');
    await sqlite.close();
    expect(events.map((e) => e.type === 'TradingPaused')).to.deep.equal(wanted);
    expectChained(events);
    expect(engine.isPaused()).to.equal(wanted[wanted.length - 1]);
  });

  it('answers MARKET_CLOSED while trading is paused', async () => {
    await engine.setPaused(true, 'tester');
    const outcome = await engine.placeOrder(order({}));
    expect(outcome.rejection?.code).to.equal('MARKET_CLOSED');
    // Alerts share the system stream; they must not hide the pause.
    await store.append(
      'system',
      [{ type: 'AlertRaised', data: { id: 'a1' } }],
      'any',
    );
    const restarted = await startEngine(store);
    expect(restarted.isPaused()).to.equal(true);
  });

  it('remembers the latest order under a key it forgot and used again, also after a restart', async () => {
    const forgetful = new TradingEngine(store, silentLogger, {
      ...config(),
      maxIdempotencyKeys: 2,
    });
    await forgetful.start();
    const keyed = (key: string) =>
      forgetful.placeOrder(order({ quantity: 0.01, idempotencyKey: key }));
    const first = await keyed('A');
    await keyed('B');
    await keyed('C'); // A is forgotten now
    const second = await keyed('A');
    expect(second.orderId).not.to.equal(first.orderId);
    expect(second.replayed).to.equal(false);

    const restarted = new TradingEngine(store, silentLogger, {
      ...config(),
      maxIdempotencyKeys: 2,
    });
    await restarted.start();
    const again = await restarted.placeOrder(
      order({ quantity: 0.01, idempotencyKey: 'A' }),
    );
    expect(again.replayed).to.equal(true);
    expect(again.orderId).to.equal(second.orderId);
    const placedUnderA = (await store.readStream('account-main')).filter(
      (e) => e.type === 'OrderPlaced' && e.metadata.idempotencyKey === 'A',
    );
    expect(placedUnderA).to.have.length(2);
  });
});
