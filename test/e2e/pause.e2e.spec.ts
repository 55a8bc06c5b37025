import { expect } from 'chai';
import { hourCandle } from '../support/candles';
import {
  startTestServer,
  tempDataDir,
  TestServer,
} from '../support/testServer';

describe('pausing and resuming trading over HTTP (e2e)', () => {
  let server: TestServer;
  let traderToken: string;

  before(async () => {
    server = await startTestServer({ dataDir: tempDataDir() });
    await server.running.engine.ingestCandle(
      hourCandle(0, 42000, 42000, 42000, 42000),
    );
    const added = await server.call('POST', '/api/admin/users', {
      username: 'tess',
      password: 'a-long-trader-password',
      role: 'trader',
    });
    expect(added.status).to.equal(201);
    const login = await fetch(`${server.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'tess',
        password: 'a-long-trader-password',
      }),
    });
    traderToken = ((await login.json()) as { access_token: string })
      .access_token;
  });
  after(async () => server?.running.close());

  const order = () =>
    server.call('POST', '/api/trading/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.001,
    });

  it('refuses a trader, then pauses for an admin: orders get MARKET_CLOSED, status shows it, resume lets them through', async () => {
    const byTrader = await server.call(
      'POST',
      '/api/trading/pause',
      undefined,
      {
        authorization: `Bearer ${traderToken}`,
      },
    );
    expect(byTrader.status).to.equal(403);
    expect(byTrader.body.error.code).to.equal('FORBIDDEN');
    expect((await order()).status).to.equal(200);

    const paused = await server.call('POST', '/api/trading/pause');
    expect(paused.status).to.equal(200);
    expect(paused.body).to.deep.include({ status: 'paused' });
    const pausedAt = paused.headers.get('x-mirai-position');
    const status = await server.call(
      'GET',
      `/api/trading/status?wait_for_position=${pausedAt}`,
    );
    expect(status.body.is_active).to.equal(false);

    const refused = await order();
    expect(refused.status).to.equal(503);
    expect(refused.body.error.code).to.equal('MARKET_CLOSED');

    // A restart keeps the pause: it is an event, not a flag in memory.
    const events = await server.running.store.readStream('system');
    expect(events.map((e) => e.type)).to.include('TradingPaused');

    const resumed = await server.call('POST', '/api/trading/resume');
    expect(resumed.status).to.equal(200);
    expect(resumed.body).to.deep.include({ status: 'active' });
    expect((await order()).status).to.equal(200);
  });
});
