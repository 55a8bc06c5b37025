import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import net, { createServer } from 'node:net';
import path from 'node:path';
import { accountStream } from '../../domain/account';
import { silentLogger } from '../../infrastructure/logging/logger';
import { startMirai } from '../../server';
import {
  ADMIN_PASSWORD,
  MARKET_DATA,
  tempDataDir,
} from '../support/testServer';

const REPO = path.resolve(__dirname, '../..');
const ORDERS = 200;
const CONCURRENCY = 25;
/** Responses received before SIGTERM goes out, so it lands mid-burst. */
const SIGTERM_AFTER = 60;

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

/** Resolves when the child has written a log line with `msg`. */
const waitForLog = (child: ChildProcess, msg: string, timeoutMs = 15_000) =>
  new Promise<void>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`no '${msg}' log line within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n').slice(0, -1)) {
        if (line.includes(`"msg":"${msg}"`)) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          resolve();
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`server exited early (${code})`)),
    );
  });

type Outcome =
  | { kind: 'ok'; orderId: string }
  | { kind: 'status'; status: number }
  | { kind: 'failed'; error: string };

/**
 * SIGTERM to the real CLI server in the middle of a burst of orders: it
 * exits 0, every order it answered 200 has its events in the store after
 * a restart, and no MARKET order is half-written (placed but not filled).
 */
describe('graceful shutdown on SIGTERM during a burst of orders (e2e)', function () {
  this.timeout(60_000);
  const dataDir = tempDataDir();
  let child: ChildProcess;
  let exitCode: number | null = null;
  let exitSignal: NodeJS.Signals | null = null;
  let stderr = '';
  const outcomes: Outcome[] = [];

  after(() => {
    if (child && child.exitCode === null && child.signalCode === null)
      child.kill('SIGKILL');
  });

  it('finishes in-flight orders and exits 0', async () => {
    const port = await freePort();
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'main.ts',
        'serve',
        '--port',
        String(port),
        '--data-dir',
        dataDir,
        '--data',
        path.join(MARKET_DATA, 'BTC_USDT-1h.json'),
        '--max-candles',
        '200',
        // The burst is about shutdown, not rate limits: raised past it.
        '--trading-limit',
        '100000',
        '--public-limit',
        '100000',
      ],
      {
        cwd: REPO,
        env: { ...process.env, MIRAI_ADMIN_PASSWORD: ADMIN_PASSWORD },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        exitCode = code;
        exitSignal = signal;
        resolve();
      }),
    );
    // The replay must be done before MARKET orders have a price.
    const started = waitForLog(child, 'server started');
    const fed = waitForLog(child, 'feed ended');
    await started;
    await fed;
    const url = `http://127.0.0.1:${port}`;

    const login = await fetch(`${url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    expect(login.status).to.equal(200);
    const { access_token: token } = (await login.json()) as {
      access_token: string;
    };

    let next = 0;
    let signalled = false;
    let signalledAt = 0;
    const placeOne = async (index: number): Promise<Outcome> => {
      try {
        const res = await fetch(`${url}/api/trading/order`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({
            symbol: 'BTCUSDT',
            side: index % 2 ? 'SELL' : 'BUY',
            type: 'MARKET',
            quantity: 0.001,
          }),
        });
        const body = (await res.json()) as { order_id?: string };
        if (res.status === 200 && body.order_id)
          return { kind: 'ok', orderId: body.order_id };
        return { kind: 'status', status: res.status };
      } catch (error) {
        return {
          kind: 'failed',
          error: String((error as Error).cause ?? error),
        };
      }
    };
    const worker = async () => {
      while (next < ORDERS) {
        const outcome = await placeOne(next++);
        outcomes.push(outcome);
        if (!signalled && outcomes.length >= SIGTERM_AFTER) {
          signalled = true;
          signalledAt = Date.now();
          child.kill('SIGTERM');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await exited;
    const stopMs = Date.now() - signalledAt;

    expect(signalled).to.equal(true);
    expect(outcomes).to.have.length(ORDERS);
    expect(exitSignal, stderr).to.equal(null);
    expect(exitCode, stderr).to.equal(0);
    // Keep-alive sockets must not hold the process until their clients
    // drop them (about 4 s for fetch's pool).
    expect(stopMs).to.be.below(2_000);

    const ok = outcomes.filter((o) => o.kind === 'ok').length;
    // Some answered before SIGTERM, and the server really stopped taking
    // new ones afterwards: the signal landed mid-burst.
    expect(ok).to.be.at.least(SIGTERM_AFTER - CONCURRENCY);
    expect(ok).to.be.below(ORDERS);
    for (const outcome of outcomes) {
      if (outcome.kind === 'status')
        expect.fail(`order answered ${outcome.status}`);
    }
  });

  it('has every order answered 200 in the store after restart, none half-written', async () => {
    expect(exitCode).to.equal(0);
    const mirai = await startMirai({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      logger: silentLogger,
      feed: { kind: 'none' },
      env: { MIRAI_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    try {
      const events = await mirai.store.readStream(accountStream('main'));
      const placed = new Map<string, string>();
      const filled = new Set<string>();
      for (const event of events) {
        const data = event.data as { orderId: string; orderType?: string };
        if (event.type === 'OrderPlaced')
          placed.set(data.orderId, data.orderType!);
        if (event.type === 'OrderFilled') filled.add(data.orderId);
      }

      const answered = outcomes.flatMap((o) =>
        o.kind === 'ok' ? [o.orderId] : [],
      );
      for (const orderId of answered) {
        expect(placed.has(orderId), `OrderPlaced of ${orderId}`).to.equal(true);
        expect(filled.has(orderId), `OrderFilled of ${orderId}`).to.equal(true);
      }
      for (const [orderId, type] of placed) {
        if (type === 'MARKET') {
          expect(
            filled.has(orderId),
            `MARKET ${orderId} placed but not filled`,
          ).to.equal(true);
        }
      }
      // In-flight orders were finished and answered: the store holds no
      // order whose reply was lost to the shutdown.
      expect(placed.size).to.equal(answered.length);
      expect(await mirai.engine.openOrders()).to.have.length(0);
    } finally {
      await mirai.close();
    }
  });
});

describe('graceful stop with a client that never finishes its request (e2e)', () => {
  it('cuts the connection after the grace period instead of waiting for it', async () => {
    const mirai = await startMirai({
      port: 0,
      dataDir: tempDataDir(),
      feed: { kind: 'none' },
      logger: silentLogger,
      shutdownGraceMs: 300,
      env: { MIRAI_ADMIN_PASSWORD: 'slow-client-password' },
    });
    const socket = net.connect(mirai.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const cut = new Promise<void>((resolve) =>
      socket.once('close', () => resolve()),
    );
    // Promises 1,000 bytes of body and sends one.
    socket.write(
      'POST /api/trading/order HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Without the cut, close() would wait for Node's request timeout and
    // this test would run out of time.
    await mirai.close();
    await cut;
  });
});

describe('`npm start` stopped by a SIGTERM to npm (e2e)', function () {
  this.timeout(30_000);
  let npm: ChildProcess | undefined;

  after(() => {
    // npm, its shell and the server share the process group npm leads.
    if (npm?.pid !== undefined) {
      try {
        process.kill(-npm.pid, 'SIGKILL');
      } catch {
        // all gone already
      }
    }
  });

  it('stops the server too, instead of leaving it running orphaned', async () => {
    const port = await freePort();
    npm = spawn(
      'npm',
      [
        'start',
        '--',
        '--store',
        'memory',
        '--no-feed',
        '--port',
        String(port),
        '--data-dir',
        tempDataDir(),
      ],
      {
        cwd: REPO,
        env: { ...process.env, MIRAI_ADMIN_PASSWORD: ADMIN_PASSWORD },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    // The server keeps writing to the pipe after npm is gone.
    let output = '';
    npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitForLog(npm, 'server started');
    const health = `http://127.0.0.1:${port}/api/health`;
    expect((await fetch(health)).status).to.equal(200);

    npm.kill('SIGTERM');

    const deadline = Date.now() + 10_000;
    let stillServing = true;
    while (stillServing && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      stillServing = await fetch(health).then(
        () => true,
        () => false,
      );
    }
    expect(stillServing, 'server still answering 10 s after npm died').to.equal(
      false,
    );
    expect(output).to.contain('"msg":"shutting down","signal":"parent exited"');
  });
});
