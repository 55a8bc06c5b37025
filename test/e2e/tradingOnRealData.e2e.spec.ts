import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Decimal from 'decimal.js';
import {
  MARKET_DATA,
  startTestServer,
  tempDataDir,
  TestServer,
} from '../support/testServer';

type Row = [number, number, number, number, number, number];

/**
 * Trades over HTTP on a replay of real Binance BTCUSDT 1h candles and
 * checks every fill against prices read straight from the file.
 */
describe('server trading on real market data (e2e)', () => {
  const file = path.join(MARKET_DATA, 'BTC_USDT-1h.json');
  // Read independently of Mirai's parser: the file is the reference.
  const rows = JSON.parse(readFileSync(file, 'utf8')) as Row[];
  const dataDir = tempDataDir();
  const settings = {
    dataDir,
    slippageRate: '0',
    takerFeeRate: '0.001',
    makerFeeRate: '0.001',
  };
  let server: TestServer;
  let marketPrice: number;
  let limitPrice: number;
  let positionsBeforeRestart: unknown;

  after(async () => server?.running.close());

  it('fills a MARKET order at the close of the last replayed candle', async () => {
    server = await startTestServer({
      ...settings,
      feed: { kind: 'file', files: [file], speed: 'max', maxCandles: 100 },
    });
    marketPrice = rows[99][4];
    const res = await server.call('POST', '/api/trading/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.01,
      price: null,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(Object.keys(res.body)).to.deep.equal([
      'order_id',
      'status',
      'symbol',
      'side',
      'executed_price',
      'executed_quantity',
      'timestamp',
    ]);
    expect(res.body).to.deep.include({
      status: 'FILLED',
      symbol: 'BTCUSDT',
      side: 'BUY',
      executed_price: marketPrice,
      executed_quantity: 0.01,
    });
    // Market time: the close of candle 100 is the open of candle 101.
    expect(res.body.timestamp).to.equal(
      new Date(rows[100][0]).toISOString().replace('.000Z', 'Z'),
    );
    expect(res.body.order_id).to.match(/^[0-9a-f]{12}$/);
  });

  it('rests a LIMIT order below the market', async () => {
    // A price the next 50 candles reach, strictly below the current close.
    const lowest = Math.min(...rows.slice(100, 150).map((r) => r[3]));
    limitPrice = new Decimal(lowest)
      .add(marketPrice)
      .div(2)
      .toDecimalPlaces(2, Decimal.ROUND_FLOOR)
      .toNumber();
    expect(limitPrice).to.be.below(marketPrice);
    const res = await server.call('POST', '/api/trading/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      quantity: 0.01,
      price: limitPrice,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body).to.deep.include({
      status: 'NEW',
      executed_price: null,
      executed_quantity: 0,
    });
  });

  it('shows the MARKET fill as the position and the only trade', async () => {
    const positions = await server.call('GET', '/api/trading/positions');
    expect(positions.body.positions).to.deep.equal([
      {
        symbol: 'BTCUSDT',
        side: 'LONG',
        size: 0.01,
        entry_price: marketPrice,
        current_price: marketPrice,
        unrealized_pnl: 0,
        margin_used: new Decimal(marketPrice).div(100).toNumber(),
        leverage: 1,
      },
    ]);
    const trades = await server.call('GET', '/api/trading/trades');
    expect(trades.body.trades).to.have.length(1);
    expect(trades.body.trades[0]).to.deep.include({
      id: 1,
      symbol: 'BTCUSDT',
      action: 'BUY',
      price: marketPrice,
      quantity: 0.01,
      pnl: 0,
      strategy: 'manual',
    });
  });

  it('fills the LIMIT order on the first later candle that reaches it, after a restart', async () => {
    await server.running.close();
    server = await startTestServer({
      ...settings,
      feed: { kind: 'file', files: [file], speed: 'max', maxCandles: 50 },
    });
    const crossing = rows.slice(100, 150).find((r) => r[3] <= limitPrice)!;
    // At the limit price, or at the open if the market gapped through it.
    const expected = Math.min(crossing[1], limitPrice);

    const trades = await server.call('GET', '/api/trading/trades?limit=10');
    expect(
      trades.body.trades.map((t: { price: number }) => t.price),
    ).to.deep.equal([expected, marketPrice]);
    expect(trades.body.trades[0].timestamp).to.equal(
      new Date(crossing[0] + 3_600_000).toISOString().replace('.000Z', 'Z'),
    );

    const positions = await server.call('GET', '/api/trading/positions');
    const [position] = positions.body.positions;
    expect(position.size).to.equal(0.02);
    expect(position.entry_price).to.equal(
      new Decimal(expected).add(marketPrice).div(2).toNumber(),
    );
    expect(position.current_price).to.equal(rows[149][4]);
    positionsBeforeRestart = positions.body;
  });

  it('returns the same positions and trades after another restart', async () => {
    const tradesBefore = (await server.call('GET', '/api/trading/trades')).body;
    await server.running.close();
    server = await startTestServer({ ...settings, feed: { kind: 'none' } });
    expect(
      (await server.call('GET', '/api/trading/positions')).body,
    ).to.deep.equal(positionsBeforeRestart);
    expect(
      (await server.call('GET', '/api/trading/trades')).body,
    ).to.deep.equal(tradesBefore);
  });

  it('filters trades by symbol and strategy and caps the limit', async () => {
    const btc = await server.call(
      'GET',
      '/api/trading/trades?symbol=BTCUSDT&limit=1',
    );
    expect(btc.body.trades).to.have.length(1);
    const eth = await server.call('GET', '/api/trading/trades?symbol=ETHUSDT');
    expect(eth.body.trades).to.deep.equal([]);
    const other = await server.call(
      'GET',
      '/api/trading/trades?strategy=grid_trading',
    );
    expect(other.body.trades).to.deep.equal([]);
    for (const limit of ['0', '1001', 'abc', '1.5', '-1']) {
      const res = await server.call(
        'GET',
        `/api/trading/trades?limit=${limit}`,
      );
      expect(res.status, limit).to.equal(400);
      expect(res.body.error.code).to.equal('INVALID_REQUEST');
    }
    const max = await server.call('GET', '/api/trading/trades?limit=1000');
    expect(max.status).to.equal(200);
  });
});
