import { expect } from 'chai';
import net from 'node:net';
import path from 'node:path';
import { accountStream } from '../../domain/account';
import {
  MARKET_DATA,
  startTestServer,
  tempDataDir,
  type TestServer,
} from '../support/testServer';

/**
 * Requests the server read and passed to the app are answered before it
 * closes their connection, however it comes to close it: a malformed
 * request or a body breaking off behind them, data after `Connection:
 * close`, a CONNECT, a graceful stop (also with a client reading
 * slowly); and the server stays up throughout.
 */
describe('answers owed on a connection that closes (e2e)', function () {
  this.timeout(30_000);
  let server: TestServer;
  let dataDir: string;

  beforeEach(async () => {
    dataDir = tempDataDir();
    server = await startTestServer({
      dataDir,
      feed: {
        kind: 'file',
        files: [path.join(MARKET_DATA, 'BTC_USDT-1h.json')],
        speed: 'max',
        // Event pages big enough to fill a slow reader's socket.
        maxCandles: 1_000,
      },
      // Not about limits: the slow reader asks for many event pages.
      rateLimits: { public: 1e6, trading: 1e6, bulk: 1e6 },
    });
  });
  afterEach(() => server.running.close());

  const orderRequest = (key: string, extraHeaders = '') => {
    const body = JSON.stringify({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.001,
    });
    return (
      'POST /api/trading/order HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
      `Authorization: Bearer ${server.token}\r\n` +
      `Idempotency-Key: ${key}\r\n${extraHeaders}` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    );
  };

  /** `count` requests for big pages of raw events, as the admin. */
  const eventPages = (count: number) =>
    (
      'GET /api/events?limit=1000 HTTP/1.1\r\nHost: x\r\n' +
      `Authorization: Bearer ${server.token}\r\n\r\n`
    ).repeat(count);

  /**
   * Writes each of `parts` on one new connection, `gapMs` apart; resolves
   * to everything read until the server closed it.
   */
  const exchange = (parts: string | string[], gapMs = 0) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1');
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
      const writeFrom = (index: number) => {
        const all = [parts].flat();
        if (index >= all.length || socket.destroyed) return;
        socket.write(all[index]);
        setTimeout(() => writeFrom(index + 1), gapMs);
      };
      writeFrom(0);
    });

  const health = async () => (await fetch(`${server.url}/api/health`)).status;

  const statuses = (text: string) =>
    [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]);

  /** Orders the account stream holds, in order, by idempotency key. */
  const storedKeys = async () => {
    const events = await server.running.store.readStream(accountStream('main'));
    return events
      .filter((event) => event.type === 'OrderPlaced')
      .map((event) => event.metadata.idempotencyKey);
  };

  it('answers every order read before a malformed request, then closes', async () => {
    const keys = ['p1', 'p2', 'p3', 'p4', 'p5'];
    const text = await exchange(
      keys.map((key) => orderRequest(key)).join('') + 'GARBAGE\r\n\r\n',
    );
    // Node on its own: one bare 400, and all five orders placed.
    expect(statuses(text)).to.deep.equal(['200', '200', '200', '200', '200']);
    expect(await storedKeys()).to.deep.equal(keys);
  });

  it('answers the request that said Connection: close, ignoring what follows', async () => {
    const text = await exchange(
      orderRequest('c1', 'Connection: close\r\n') +
        orderRequest('c2') +
        orderRequest('c3'),
    );
    expect(statuses(text)).to.deep.equal(['200']);
    expect(await storedKeys()).to.deep.equal(['c1']);
  });

  it('answers every pipelined order it took before a graceful stop', async () => {
    const keys = ['s1', 's2', 's3', 's4', 's5'];
    let received = 0;
    const allReceived = new Promise<void>((resolve) =>
      server.running.server.on('request', () => {
        if (++received === keys.length) resolve();
      }),
    );
    const answered = exchange(keys.map((key) => orderRequest(key)).join(''));
    await allReceived;
    await server.running.close();
    const text = await answered;
    expect(statuses(text)).to.deep.equal(keys.map(() => '200'));
    // Every order answered was stored, and only those.
    server = await startTestServer({ dataDir });
    expect(await storedKeys()).to.deep.equal(keys);
  });

  it('answers a body that breaks off with 400, after the orders read before it', async () => {
    const broken =
      'POST /api/trading/order HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
      `Authorization: Bearer ${server.token}\r\n` +
      'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
      'ZZ\r\n';
    const text = await exchange(orderRequest('b1') + broken);
    expect(statuses(text)).to.deep.equal(['200', '400']);
    expect(text).to.contain('"message":"Malformed HTTP request"');
    expect(await storedKeys()).to.deep.equal(['b1']);
  });

  it('stays up when a body the app is still reading breaks off', async () => {
    // The app answers 413 on its own once the chunk passes the body
    // limit; the broken chunk size behind it is answered 400.
    const text = await exchange(
      [
        'POST /auth/token HTTP/1.1\r\nHost: x\r\n' +
          'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
          `20000\r\n${'a'.repeat(0x20000)}\r\n`,
        'ZZZ\r\n',
      ],
      300,
    );
    expect(statuses(text)).to.include('400');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await health()).to.equal(200);
  });

  it('answers orders pipelined behind a request without Host', async () => {
    const text = await exchange(
      orderRequest('h1') +
        'GET /api/health HTTP/1.1\r\n\r\n' +
        orderRequest('h2') +
        orderRequest('h3', 'Connection: close\r\n'),
    );
    expect(statuses(text)).to.deep.equal(['200', '200', '200', '200']);
    expect(await storedKeys()).to.deep.equal(['h1', 'h2', 'h3']);
  });

  it('answers orders read before a CONNECT, then refuses it', async () => {
    const keys = ['t1', 't2', 't3'];
    const text = await exchange(
      [
        keys.map((key) => orderRequest(key)).join(''),
        'CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\n',
      ],
      5,
    );
    expect(statuses(text).slice(0, 3)).to.deep.equal(['200', '200', '200']);
    expect(await storedKeys()).to.deep.equal(keys);
  });

  it('lets a graceful stop finish answers queued behind one still being read', async () => {
    // A client that reads slowly: its first answers fill the socket
    // while its orders wait behind them.
    const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1');
    socket.pause();
    const keys = ['r1', 'r2', 'r3'];
    let received = 0;
    const reads = 30;
    const allReceived = new Promise<void>((resolve) =>
      server.running.server.on('request', () => {
        if (++received === reads + keys.length) resolve();
      }),
    );
    socket.write(eventPages(reads));
    socket.write(keys.map((key) => orderRequest(key)).join(''));
    await allReceived;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stopped = server.running.close();
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.resume();
    await closed;
    await stopped;
    const answers = statuses(text);
    expect(answers).to.have.length(reads + keys.length);
    expect(answers.every((status) => status === '200')).to.equal(true);
  });

  it('stays up when a client resets after a CONNECT behind answers', async () => {
    for (const ahead of [1, 5]) {
      const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(
        'GET /api/trading/positions HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(ahead) +
          'CONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\n',
      );
      await new Promise((resolve) => setTimeout(resolve, 5));
      socket.resetAndDestroy();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await health()).to.equal(200);
  });

  it('cuts a connection that sent a CONNECT once the grace period is over', async () => {
    await server.running.close();
    server = await startTestServer({
      dataDir,
      shutdownGraceMs: 300,
      rateLimits: { public: 1e6, trading: 1e6, bulk: 1e6 },
    });
    const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1');
    socket.pause(); // never reads: its answers stay owed
    socket.on('error', () => undefined);
    socket.write(eventPages(40));
    socket.write('CONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Without the cut, close() waits for as long as the client stays.
    await server.running.close();
    socket.destroy();
  });

  it('finishes a stop while a client keeps writing to its ended connection', async () => {
    const socket = net.connect({
      port: Number(new URL(server.url).port),
      host: '127.0.0.1',
      allowHalfOpen: true, // keeps writing after the server's FIN
    });
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    const request = 'GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n';
    socket.write(request);
    await new Promise((resolve) => setTimeout(resolve, 200));

    let flooding = true;
    const flood = () => {
      while (flooding && !socket.destroyed) {
        if (!socket.write(request.repeat(500))) {
          socket.once('drain', flood);
          return;
        }
      }
    };
    const floodFor5s = setTimeout(() => (flooding = false), 5_000);
    const stopped = server.running.close().then(() => flooding);
    setTimeout(flood, 50);
    // Before, the connection stayed open, reading, as long as the client
    // wrote: the stop waited for it, and memory grew.
    expect(await stopped, 'stopped only after the client did').to.equal(true);
    clearTimeout(floodFor5s);
    flooding = false;
    socket.destroy();
  });

  it('answers a broken-off request the app already answered only once', async () => {
    const broken =
      'POST /api/trading/order HTTP/1.1\r\nHost: x\r\n' +
      'Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5\r\n{"a":';
    const text = await exchange(
      [orderRequest('o1') + orderRequest('o2') + broken, '\r\nZZZ\r\n'],
      300,
    );
    // Two orders and the 415 the app gave the text body; no 400 after it.
    expect(statuses(text)).to.deep.equal(['200', '200', '415']);
  });

  it('answers a malformed request with nothing owed in the API error format', async () => {
    const text = await exchange('GARBAGE\r\n\r\n');
    expect(statuses(text)).to.deep.equal(['400']);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    expect(body.error).to.include({
      code: 'INVALID_REQUEST',
      message: 'Malformed HTTP request',
    });
    expect(body.error.timestamp).to.match(/Z$/);
  });

  it('answers headers too large with 431 in the API error format', async () => {
    const text = await exchange(
      `GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(statuses(text)).to.deep.equal(['431']);
    expect(text).to.contain('"code":"INVALID_REQUEST"');
  });

  it('keeps serving other connections throughout', async () => {
    await exchange('GARBAGE\r\n\r\n');
    const health = await fetch(`${server.url}/api/health`);
    expect(health.status).to.equal(200);
  });
});
