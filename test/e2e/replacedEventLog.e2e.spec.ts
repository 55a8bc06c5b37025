import { expect } from 'chai';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { hourCandle } from '../support/candles';
import {
  startTestServer,
  tempDataDir,
  TestServer,
} from '../support/testServer';

// Someone starts over by deleting events.db and keeps readmodels.db. The
// read models were folded from the old log, up to a position the new log
// has not reached: they must be folded again, not kept and served.
describe('read models over a replaced event log (e2e)', () => {
  const dataDir = tempDataDir();
  let server: TestServer | undefined;
  after(async () => server?.running.close());

  const start = async () => {
    server = await startTestServer({
      dataDir,
      store: 'sqlite',
      slippageRate: '0',
      takerFeeRate: '0.001',
      initialBalance: '10000',
    });
    await server.running.engine.ingestCandle(
      hourCandle(0, 30000, 30100, 29900, 30000),
    );
    return server;
  };

  const buy = async (running: TestServer) => {
    const res = await running.call('POST', '/api/trading/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.01,
    });
    expect(res.status).to.equal(200);
    return res.body.order_id as string;
  };

  it('serves what the new log holds, not what the old one did', async () => {
    const first = await start();
    for (let i = 0; i < 3; i++) await buy(first);
    const before = await first.call('GET', '/api/trading/trades');
    expect(before.body.trades).to.have.length(3);
    await first.running.close();

    for (const file of ['events.db', 'events.db-wal', 'events.db-shm']) {
      rmSync(path.join(dataDir, file), { force: true });
    }

    const second = await start();
    const orderId = await buy(second);
    const trades = (await second.call('GET', '/api/trading/trades')).body
      .trades;
    expect(trades.map((t: { order_id: string }) => t.order_id)).to.deep.equal([
      orderId,
    ]);
    const positions = (await second.call('GET', '/api/trading/positions')).body
      .positions;
    expect(positions.map((p: { size: number }) => p.size)).to.deep.equal([
      0.01,
    ]);
  });
});
