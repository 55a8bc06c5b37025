import { expect } from 'chai';
import net from 'node:net';
import {
  createConnectionLimiter,
  createRateLimiter,
} from '../../api/rateLimit';
import {
  call,
  errorOf,
  startTestServer,
  type TestServer,
} from './support/testServer';

const START_SECONDS = Date.UTC(2024, 0, 15, 14, 0, 0) / 1000;

describe('rate limits through a real server', () => {
  describe('public tier at the spec default of 100 per minute', () => {
    let server: TestServer;

    before(async () => {
      server = await startTestServer();
    });
    after(() => server.close());

    it('answers the 101st request in a minute 429, headers right', async () => {
      for (let i = 1; i <= 100; i += 1) {
        const response = await call(`${server.url}/api/status`);
        expect(response.status).to.equal(200);
        expect(response.headers.get('x-ratelimit-limit')).to.equal('100');
        expect(response.headers.get('x-ratelimit-remaining')).to.equal(
          String(100 - i),
        );
        expect(response.headers.get('x-ratelimit-reset')).to.equal(
          String(START_SECONDS + 60),
        );
      }

      server.clock.ms += 20_000;
      const limited = await call(`${server.url}/api/status`);

      expect(limited.status).to.equal(429);
      expect(limited.headers.get('x-ratelimit-limit')).to.equal('100');
      expect(limited.headers.get('x-ratelimit-remaining')).to.equal('0');
      expect(limited.headers.get('x-ratelimit-reset')).to.equal(
        String(START_SECONDS + 60),
      );
      expect(limited.headers.get('retry-after')).to.equal('40');
      const error = await errorOf(limited);
      expect(error.code).to.equal('RATE_LIMITED');
      expect(error.details).to.include({ tier: 'public', limit: 100 });
    });

    it('opens a new window once the clock passes the reset', async () => {
      server.clock.ms += 40_000;
      const response = await call(`${server.url}/api/status`);

      expect(response.status).to.equal(200);
      expect(response.headers.get('x-ratelimit-remaining')).to.equal('99');
      expect(response.headers.get('x-ratelimit-reset')).to.equal(
        String(START_SECONDS + 120),
      );
    });

    it('sets the headers on error responses too', async () => {
      const response = await call(`${server.url}/no/such/route`);
      expect(response.status).to.equal(404);
      expect(response.headers.get('x-ratelimit-limit')).to.equal('100');
    });
  });

  describe('trading tier and per-user keys', () => {
    let server: TestServer;

    before(async () => {
      server = await startTestServer({ limits: { trading: 2 } });
    });
    after(() => server.close());

    const order = (token: string) =>
      call(`${server.url}/api/trading/order`, {
        method: 'POST',
        token,
        body: { symbol: 'BTCUSDT', side: 'BUY' },
      });

    it('counts orders per user, apart from the public tier', async () => {
      const trader = server.tokenFor('trader');
      expect((await order(trader)).status).to.equal(201);
      const second = await order(trader);
      expect(second.headers.get('x-ratelimit-limit')).to.equal('2');
      expect(second.headers.get('x-ratelimit-remaining')).to.equal('0');
      expect((await order(trader)).status).to.equal(429);

      // Same address, another user: a window of its own.
      expect((await order(server.tokenFor('admin'))).status).to.equal(201);
      const read = await call(`${server.url}/api/status`, { token: trader });
      expect(read.status).to.equal(200);
      expect(read.headers.get('x-ratelimit-limit')).to.equal('100');
    });
  });

  describe('trusted proxy setting', () => {
    const burst = async (server: TestServer, forwardedFor: string) => {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        const response = await call(`${server.url}/api/status`, {
          headers: { 'X-Forwarded-For': forwardedFor },
        });
        statuses.push(response.status);
      }
      return statuses;
    };

    it('ignores X-Forwarded-For when off', async () => {
      const server = await startTestServer({ limits: { public: 2 } });
      try {
        expect(await burst(server, '203.0.113.1')).to.deep.equal([
          200, 200, 429,
        ]);
        // A new forged address does not buy a new allowance.
        expect(await burst(server, '203.0.113.2')).to.deep.equal([
          429, 429, 429,
        ]);
      } finally {
        await server.close();
      }
    });

    it('counts the right-most untrusted forwarded address', async () => {
      const server = await startTestServer({
        limits: { public: 2 },
        trustProxy: true,
      });
      try {
        expect(await burst(server, '203.0.113.1')).to.deep.equal([
          200, 200, 429,
        ]);
        expect(await burst(server, '203.0.113.2')).to.deep.equal([
          200, 200, 429,
        ]);
        // A client prepending a fake address is still counted by the one
        // the proxy appended.
        expect(await burst(server, '198.51.100.9, 203.0.113.2')).to.deep.equal([
          429, 429, 429,
        ]);
      } finally {
        await server.close();
      }
    });
  });
});

describe('createRateLimiter memory', () => {
  it('forgets expired windows and caps the clients held', () => {
    let now = 0;
    const limiter = createRateLimiter({
      now: () => now,
      maxClients: 3,
      identify: (req) => req.get('X-User'),
    });
    const hit = (user: string) => {
      const req = {
        method: 'GET',
        path: '/api/status',
        get: () => user,
        headers: {},
        socket: { remoteAddress: '127.0.0.1' },
      };
      const res = { set: () => res, setHeader: () => res, locals: {} };
      limiter.middleware(req as never, res as never, () => undefined);
    };

    for (const user of ['a', 'b', 'c', 'd', 'e']) hit(user);
    expect(limiter.clients()).to.equal(3);

    now += 60_001;
    hit('f');
    expect(limiter.clients()).to.equal(1);
  });
});

describe('createConnectionLimiter', () => {
  it('allows 10 WebSocket connections per address by default', () => {
    const limiter = createConnectionLimiter();
    const releases = Array.from({ length: 10 }, () =>
      limiter.tryAcquire('203.0.113.1'),
    );

    expect(releases.every(Boolean)).to.equal(true);
    expect(limiter.tryAcquire('203.0.113.1')).to.equal(undefined);
    expect(limiter.tryAcquire('203.0.113.2')).to.be.a('function');

    releases[0]!();
    releases[0]!();
    expect(limiter.count('203.0.113.1')).to.equal(9);
    expect(limiter.tryAcquire('203.0.113.1')).to.be.a('function');
  });
});

describe('rate-limit tiers through a real server, however the URL is written', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  /** The X-RateLimit-Limit a raw request target gets: its tier's limit. */
  const limitFor = (method: string, target: string) =>
    new Promise<string | undefined>((resolve, reject) => {
      const { port } = new URL(server.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('error', reject);
      socket.on('close', () =>
        resolve(/^x-ratelimit-limit: (\d+)\r$/im.exec(text)?.[1]),
      );
      socket.end(
        `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
          'Content-Length: 0\r\nConnection: close\r\n\r\n',
      );
    });

  it('puts the bulk routes in the bulk tier in absolute form or with a fragment', async () => {
    expect(await limitFor('GET', '/api/events?limit=1')).to.equal('10');
    expect(await limitFor('GET', 'http://x/api/events?limit=1')).to.equal('10');
    expect(await limitFor('GET', '/api/events#x')).to.equal('10');
    expect(await limitFor('GET', '/API/Events/')).to.equal('10');
  });

  it('puts orders in the trading tier in absolute form', async () => {
    expect(await limitFor('POST', 'http://h/api/trading/order')).to.equal('50');
  });
});
