import { expect } from 'chai';
import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import {
  InMemoryEventStore,
  SqliteEventStore,
} from '../../infrastructure/eventStore';
import {
  createProjections,
  openReadModelDb,
  replayFromZero,
} from '../../projections';
import { snapshot } from '../projections/support';
import {
  ADMIN_PASSWORD,
  MARKET_DATA,
  startTestServer,
  tempDataDir,
} from '../support/testServer';

const ROOT = path.resolve(__dirname, '../..');

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Kills a real server process (SIGKILL) while it replays thousands of
 * candles, places orders and folds them, then restarts on the same data
 * folder: every read model must equal one rebuilt from position 0.
 */
describe('read models survive SIGKILL mid-projection (e2e)', function () {
  this.timeout(120_000);
  let child: ChildProcess | undefined;
  after(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('resumes to exactly the from-zero rebuild', async () => {
    const dataDir = tempDataDir();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(ROOT, 'main.ts'),
        'serve',
        '--port',
        String(port),
        '--data-dir',
        dataDir,
        '--data',
        path.join(MARKET_DATA, 'BTC_USDT-5m.json'),
        '--speed',
        'max',
        '--slippage',
        '0',
        // This test polls and trades far faster than the spec's limits.
        '--public-limit',
        '1000000',
        '--trading-limit',
        '1000000',
      ],
      {
        cwd: ROOT,
        env: { ...process.env, MIRAI_ADMIN_PASSWORD: ADMIN_PASSWORD },
        stdio: 'ignore',
      },
    );
    const exited = new Promise((resolve) => child!.once('exit', resolve));

    // 1. Wait for the server, log in.
    let token = '';
    for (let i = 0; i < 200 && !token; i++) {
      try {
        const res = await fetch(`${url}/auth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
        });
        token = ((await res.json()) as { access_token: string }).access_token;
      } catch {
        await sleep(100);
      }
    }
    expect(token, 'server came up').to.not.equal('');

    // 2. Trade while candles stream in, until thousands of events exist.
    let head = 0;
    for (let i = 0; head < 3000 && i < 2000; i++) {
      const side = i % 2 === 0 ? 'BUY' : 'SELL';
      await fetch(`${url}/api/trading/order`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({
          symbol: 'BTCUSDT',
          side,
          type: 'MARKET',
          quantity: 0.01,
        }),
      }).then((r) => r.text());
      const summary = (await (
        await fetch(`${url}/api/performance/summary`)
      ).json()) as {
        data: { event_store: { head_position: string } };
      };
      head = Number(summary.data.event_store.head_position);
    }
    expect(head).to.be.at.least(3000);

    // 3. Kill it mid-stream.
    child.kill('SIGKILL');
    await exited;

    // 4. Restart on the same folder and let the projections catch up.
    const server = await startTestServer({ dataDir, feed: { kind: 'none' } });
    const storeHead = await server.running.store.headPosition();
    expect(Number(storeHead)).to.be.at.least(head);
    expect(
      await server.running.projections.waitFor(storeHead, 30_000),
    ).to.equal(true);
    const trades = await server.call('GET', '/api/trading/trades?limit=1000');
    expect(trades.body.trades.length).to.be.above(10);
    await server.running.close();

    // 5. Compare with a rebuild from position 0 of the same events.
    const store = new SqliteEventStore({
      path: path.join(dataDir, 'events.db'),
    });
    const rebuilt = openReadModelDb(':memory:');
    // Alerts were already raised: the rebuild's manager must not append.
    await replayFromZero(
      store,
      rebuilt,
      createProjections(new InMemoryEventStore()),
    );
    const resumed = openReadModelDb(path.join(dataDir, 'readmodels.db'));
    const expected = snapshot(rebuilt);
    const actual = snapshot(resumed);
    expect(Object.keys(actual)).to.deep.equal(Object.keys(expected));
    for (const table of Object.keys(expected)) {
      expect(actual[table], table).to.deep.equal(expected[table]);
    }
    resumed.close();
    rebuilt.close();
    await store.close();
  });
});
