import { expect } from 'chai';
import { call, startTestServer, type TestServer } from './support/testServer';

const scrape = async (server: TestServer) => {
  const response = await call(`${server.url}/api/metrics`);
  expect(response.status).to.equal(200);
  return { response, text: await response.text() };
};

// Sample lines: name{labels} value. Comments and blanks are skipped.
// NaN and Inf are matched in any case, as Prometheus parses them.
const SAMPLE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (-?[0-9.e+-]+|nan|[+-]inf)$/i;

const valueOf = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
};

describe('GET /api/metrics', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('serves the Prometheus text format with its content type', async () => {
    const { response, text } = await scrape(server);

    expect(response.headers.get('content-type')).to.match(
      /^text\/plain; version=0\.0\.4; charset=utf-8$/,
    );
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      expect(line).to.match(SAMPLE);
    }
    for (const [name, type] of [
      ['trading_orders_total', 'counter'],
      ['trading_pnl_total', 'gauge'],
      ['http_request_duration_seconds', 'histogram'],
      ['websocket_clients', 'gauge'],
      ['eventstore_append_duration_seconds', 'histogram'],
      ['projection_lag_events', 'gauge'],
      ['process_cpu_seconds_total', 'counter'],
      ['nodejs_heap_size_total_bytes', 'gauge'],
    ]) {
      expect(text).to.include(`# TYPE ${name} ${type}\n`);
      expect(text).to.match(new RegExp(`# HELP ${name} \\S`));
    }
  });

  it('counts orders with lowercase side and status', async () => {
    const series =
      'trading_orders_total{symbol="BTCUSDT",side="buy",status="filled"}';
    const before = valueOf((await scrape(server)).text, series) ?? 0;

    for (let i = 0; i < 2; i += 1) {
      const response = await call(`${server.url}/api/trading/order`, {
        method: 'POST',
        token: server.tokenFor('trader'),
        body: { symbol: 'BTCUSDT', side: 'BUY' },
      });
      expect(response.status).to.equal(201);
    }

    expect(valueOf((await scrape(server)).text, series)).to.equal(before + 2);
  });

  it('labels request durations by route pattern, not raw URL', async () => {
    await call(`${server.url}/api/items/12345`);
    await call(`${server.url}/api/items/67890`);
    await call(`${server.url}/no/such/thing`);
    await call(`${server.url}/auth/token`, { method: 'POST', body: {} });

    const { text } = await scrape(server);
    const count = (labels: string) =>
      valueOf(text, `http_request_duration_seconds_count{${labels}}`);

    expect(
      count('method="GET",route="/api/items/:id",status_code="200"'),
    ).to.equal(2);
    expect(count('method="GET",route="unmatched",status_code="404"')).to.equal(
      1,
    );
    expect(
      count('method="POST",route="/auth/token",status_code="400"'),
    ).to.equal(1);
    expect(text).to.not.include('12345');
  });

  it('exposes the gauges the rest of Mirai sets', async () => {
    server.metrics.websocketClients.set(3);
    server.metrics.projectionLag.set({ projection: 'positions' }, 7);
    server.metrics.pnlTotal.set({ symbol: 'BTCUSDT' }, 1250.75);
    server.metrics.eventStoreAppendDuration.observe(0.002);

    const { text } = await scrape(server);
    expect(valueOf(text, 'websocket_clients')).to.equal(3);
    expect(
      valueOf(text, 'projection_lag_events{projection="positions"}'),
    ).to.equal(7);
    expect(valueOf(text, 'trading_pnl_total{symbol="BTCUSDT"}')).to.equal(
      1250.75,
    );
    expect(valueOf(text, 'eventstore_append_duration_seconds_count')).to.equal(
      1,
    );
  });
});
