import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import net from 'node:net';
import path from 'node:path';
import { Decimal } from '../../domain/money';
import { addUser, type Role } from '../../infrastructure/auth';
import { silentLogger } from '../../infrastructure/logging/logger';
import { type RunningMirai, startMirai } from '../../server';
import {
  ADMIN_PASSWORD,
  MARKET_DATA,
  tempDataDir,
} from '../support/testServer';

interface Reply {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

const ROLE_USERS: Record<Role, string> = {
  viewer: 'vera',
  trader: 'tom',
  auditor: 'aud',
  admin: 'ada',
};
const PASSWORD = 'correct horse battery';
const ERROR_KEYS = ['code', 'message', 'details', 'timestamp'];
const ORIGIN = 'https://dashboard.mirai.test';

/**
 * Security of the real Mirai server over HTTP: every role against every
 * protected route, every kind of bad token, rate limits on an injected
 * clock, the metrics text, and the hardening headers.
 */
describe('security through the real server (e2e)', () => {
  const dataDir = tempDataDir();
  // The clock of rate limits and tokens; tests move it instead of sleeping.
  let clock = Date.UTC(2025, 0, 1, 12, 0, 0);
  let mirai: RunningMirai;
  const tokens: Partial<Record<Role, string>> = {};

  const request = async (
    method: string,
    route: string,
    {
      token,
      body,
      headers = {},
    }: {
      token?: string;
      body?: unknown;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Reply> => {
    const response = await fetch(`${mirai.url}${route}`, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return {
      status: response.status,
      body: parsed,
      text,
      headers: response.headers,
    };
  };

  const login = async (username: string, password = PASSWORD) => {
    const res = await request('POST', '/auth/token', {
      body: { username, password },
    });
    expect(res.status, res.text).to.equal(200);
    return res.body as { access_token: string; refresh_token: string };
  };

  /** Starts every rate-limit window afresh and re-issues the tokens. */
  const freshMinute = async () => {
    clock += 61_000;
    for (const role of Object.keys(ROLE_USERS) as Role[]) {
      tokens[role] = (await login(ROLE_USERS[role])).access_token;
    }
  };

  const expectError = (res: Reply, status: number, code: string) => {
    expect(res.status, res.text).to.equal(status);
    expect(Object.keys(res.body.error)).to.deep.equal(ERROR_KEYS);
    expect(res.body.error.code).to.equal(code);
    expect(res.text).not.to.match(/\.ts:\d+|\n\s+at /);
  };

  const marketOrder = (side = 'BUY', quantity = 0.001) => ({
    symbol: 'BTCUSDT',
    side,
    type: 'MARKET',
    quantity,
  });

  // A BUY LIMIT far below the market rests until cancelled.
  const restingOrder = {
    ...marketOrder('BUY', 0.01),
    type: 'LIMIT',
    price: 1000,
  };

  before(async () => {
    // Users may be added before start: the file is read on every login.
    // With users present, no initial admin is created.
    await addUser(path.join(dataDir, 'users.json'), 'ada', PASSWORD, 'admin');
    await addUser(path.join(dataDir, 'users.json'), 'vera', PASSWORD, 'viewer');
    mirai = await startMirai({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      logger: silentLogger,
      now: () => clock,
      corsOrigins: [ORIGIN],
      env: { MIRAI_ADMIN_PASSWORD: ADMIN_PASSWORD },
      feed: {
        kind: 'file',
        files: [path.join(MARKET_DATA, 'BTC_USDT-1h.json')],
        speed: 'max',
        maxCandles: 120,
      },
    });
    await mirai.feed?.done;
    expect(mirai.initialAdminPassword).to.equal(undefined);
    // ...and after start.
    await addUser(path.join(dataDir, 'users.json'), 'tom', PASSWORD, 'trader');
    await addUser(path.join(dataDir, 'users.json'), 'aud', PASSWORD, 'auditor');
    await freshMinute();
  });
  after(async () => mirai?.close());

  describe('roles against protected routes', () => {
    beforeEach(freshMinute);

    const allowed = (route: Role[], role: Role) => route.includes(role);
    const traders: Role[] = ['trader', 'auditor', 'admin'];

    for (const role of Object.keys(ROLE_USERS) as Role[]) {
      it(`POST /api/trading/order as ${role}`, async () => {
        const res = await request('POST', '/api/trading/order', {
          token: tokens[role],
          body: marketOrder(),
        });
        if (allowed(traders, role)) {
          expect(res.status, res.text).to.equal(200);
          expect(res.body.status).to.equal('FILLED');
        } else {
          expectError(res, 403, 'FORBIDDEN');
          expect(res.body.error.details.required_role).to.equal('trader');
        }
      });

      it(`DELETE /api/trading/orders/:id as ${role}`, async () => {
        const placed = await request('POST', '/api/trading/order', {
          token: tokens.trader,
          body: restingOrder,
        });
        expect(placed.body.status, placed.text).to.equal('NEW');
        const orderId = placed.body.order_id as string;

        const res = await request('DELETE', `/api/trading/orders/${orderId}`, {
          token: tokens[role],
        });
        if (allowed(traders, role)) {
          expect(res.status, res.text).to.equal(200);
          expect(res.body).to.deep.equal({
            order_id: orderId,
            status: 'CANCELLED',
          });
        } else {
          expectError(res, 403, 'FORBIDDEN');
          await request('DELETE', `/api/trading/orders/${orderId}`, {
            token: tokens.trader,
          });
        }
      });

      it(`reads /api/trading/positions and /orders as ${role}`, async () => {
        for (const route of ['/api/trading/positions', '/api/trading/orders']) {
          const res = await request('GET', route, { token: tokens[role] });
          expect(res.status, res.text).to.equal(200);
        }
      });

      it(`GET /api/events as ${role}`, async () => {
        const res = await request('GET', '/api/events?limit=5', {
          token: tokens[role],
        });
        if (allowed(['auditor', 'admin'], role)) {
          expect(res.status, res.text).to.equal(200);
          expect(res.body.events).to.have.length(5);
        } else {
          expectError(res, 403, 'FORBIDDEN');
          expect(res.body.error.details.required_role).to.equal('auditor');
        }
      });

      const invalidate = `POST /api/performance/cache/invalidate as ${role}`;
      it(`${invalidate}: admin only`, async () => {
        const res = await request('POST', '/api/performance/cache/invalidate', {
          token: tokens[role],
          body: { pattern: 'market_data' },
        });
        if (role === 'admin') {
          expect(res.status, res.text).to.be.within(200, 204);
        } else if (role === 'viewer') {
          // Refused by the write check before the route's own role check.
          expectError(res, 403, 'FORBIDDEN');
        } else {
          expectError(res, 403, 'FORBIDDEN');
          expect(res.body.error.details.required_role).to.equal('admin');
        }
      });
    }

    it('lets only an admin add users over HTTP, who can then log in', async () => {
      const newUser = { username: 'dora', password: PASSWORD, role: 'viewer' };
      for (const role of ['trader', 'auditor'] as const) {
        const res = await request('POST', '/api/admin/users', {
          token: tokens[role],
          body: newUser,
        });
        expectError(res, 403, 'FORBIDDEN');
      }
      const bad = await request('POST', '/api/admin/users', {
        token: tokens.admin,
        body: { ...newUser, role: 'root' },
      });
      expectError(bad, 400, 'INVALID_REQUEST');
      // Malformed fields are listed in details.errors, as the README says.
      const short = await request('POST', '/api/admin/users', {
        token: tokens.admin,
        body: { ...newUser, password: 'short' },
      });
      expectError(short, 400, 'INVALID_REQUEST');
      expect(short.body.error.details.errors[0].field).to.equal('password');
      const noPattern = await request(
        'POST',
        '/api/performance/cache/invalidate',
        { token: tokens.admin, body: {} },
      );
      expectError(noPattern, 400, 'INVALID_REQUEST');
      expect(noPattern.body.error.details.errors[0].field).to.equal('pattern');
      const added = await request('POST', '/api/admin/users', {
        token: tokens.admin,
        body: newUser,
      });
      expect(added.status, added.text).to.equal(201);
      const again = await request('POST', '/api/admin/users', {
        token: tokens.admin,
        body: newUser,
      });
      expectError(again, 409, 'CONFLICT');
      const listed = await request('GET', '/api/admin/users', {
        token: tokens.admin,
      });
      expect(listed.text).to.not.include('scrypt');
      expect(listed.body.users).to.deep.include({
        username: 'dora',
        role: 'viewer',
      });
      expect((await login('dora')).access_token).to.be.a('string');
    });

    it('opens reads without a token by default, but never writes', async () => {
      expect((await request('GET', '/api/trading/positions')).status).to.equal(
        200,
      );
      expectError(
        await request('POST', '/api/trading/order', { body: marketOrder() }),
        401,
        'UNAUTHORIZED',
      );
      expectError(
        await request('DELETE', '/api/trading/orders/abc'),
        401,
        'UNAUTHORIZED',
      );
      expectError(await request('GET', '/api/events'), 401, 'UNAUTHORIZED');
    });

    it('writes nothing to the store for a refused order', async () => {
      const head = await mirai.store.headPosition();
      await request('POST', '/api/trading/order', {
        token: tokens.viewer,
        body: marketOrder(),
      });
      expect(await mirai.store.headPosition()).to.equal(head);
    });
  });

  describe('GET /api/events', () => {
    beforeEach(freshMinute);

    it('pages the global log with 64-bit numbers as decimal strings', async () => {
      const first = await request('GET', '/api/events?from=1&limit=3', {
        token: tokens.auditor,
      });
      expect(first.status).to.equal(200);
      expect(
        first.body.events.map((e: any) => e.global_position),
      ).to.deep.equal(['1', '2', '3']);
      for (const event of first.body.events) {
        expect(Object.keys(event)).to.deep.equal([
          'stream_id',
          'revision',
          'global_position',
          'type',
          'data',
          'metadata',
          'recorded_at',
        ]);
        expect(event.revision).to.match(/^\d+$/);
      }
      const next = await request('GET', '/api/events?from=4&limit=2', {
        token: tokens.auditor,
      });
      expect(next.body.events.map((e: any) => e.global_position)).to.deep.equal(
        ['4', '5'],
      );
      const stored = await mirai.store.readAll({
        fromPosition: 4n,
        maxCount: 2,
      });
      expect(next.body.events[1].type).to.equal(stored[1].type);
      expect(next.body.events[1].data).to.deep.equal(stored[1].data);
    });

    it('defaults to 100 events from the start', async () => {
      const res = await request('GET', '/api/events', {
        token: tokens.auditor,
      });
      expect(res.body.events).to.have.length(100);
      expect(res.body.events[0].global_position).to.equal('1');
    });

    it('answers an empty page past the head', async () => {
      const res = await request('GET', '/api/events?from=9223372036854775807', {
        token: tokens.auditor,
      });
      expect(res.status).to.equal(200);
      expect(res.body.events).to.deep.equal([]);
    });

    for (const query of [
      'from=0',
      'from=-1',
      'from=abc',
      'from=1.5',
      'from=9223372036854775808',
      'from=1&from=2',
      'limit=0',
      'limit=1001',
      'limit=ten',
      'limit[a]=1',
      'since=3',
    ]) {
      it(`answers 400 INVALID_REQUEST to ?${query}`, async () => {
        const res = await request('GET', `/api/events?${query}`, {
          token: tokens.auditor,
        });
        expectError(res, 400, 'INVALID_REQUEST');
      });
    }
  });

  describe('bad tokens', () => {
    let secretlessClaims: Record<string, unknown>;

    before(async () => {
      await freshMinute();
      const [, payload] = tokens.trader!.split('.');
      secretlessClaims = JSON.parse(
        Buffer.from(payload, 'base64url').toString(),
      );
    });

    const base64url = (value: unknown) =>
      Buffer.from(JSON.stringify(value)).toString('base64url');

    const badTokens: Record<string, () => string | Promise<string>> = {
      malformed: () => 'not.a.token',
      'malformed (garbage)': () => 'abc',
      'wrong signature': () =>
        jwt.sign(secretlessClaims, 'someone-elses-secret', {
          algorithm: 'HS256',
        }),
      'tampered role': () => {
        const [header, , signature] = tokens.viewer!.split('.');
        return [
          header,
          base64url({ ...secretlessClaims, role: 'admin' }),
          signature,
        ].join('.');
      },
      'alg none': () =>
        `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(secretlessClaims)}.`,
      'refresh token as access token': async () =>
        (await login('tom')).refresh_token,
    };

    for (const [kind, make] of Object.entries(badTokens)) {
      it(`answers 401 UNAUTHORIZED to a ${kind} token, on writes and reads`, async () => {
        const token = await make();
        const write = await request('POST', '/api/trading/order', {
          token,
          body: marketOrder(),
        });
        expectError(write, 401, 'UNAUTHORIZED');
        expect(write.headers.get('www-authenticate')).to.contain(
          'invalid_token',
        );
        // A presented token that fails is refused even on an open read.
        expectError(
          await request('GET', '/api/trading/positions', { token }),
          401,
          'UNAUTHORIZED',
        );
      });
    }

    it('answers 401 UNAUTHORIZED to an expired token (clock moved 16 min)', async () => {
      const { access_token: token } = await login('tom');
      clock += 16 * 60_000;
      const res = await request('POST', '/api/trading/order', {
        token,
        body: marketOrder(),
      });
      expectError(res, 401, 'UNAUTHORIZED');
      expect(res.body.error.message).to.equal('Token expired');
    });

    it('answers 401 to an Authorization header that is not Bearer', async () => {
      const res = await request('GET', '/api/trading/positions', {
        headers: { authorization: 'Basic dG9tOnB3' },
      });
      expectError(res, 401, 'UNAUTHORIZED');
    });

    it('answers 401 to a wrong password and never says which part was wrong', async () => {
      const wrong = await request('POST', '/auth/token', {
        body: { username: 'tom', password: 'not the password' },
      });
      const unknown = await request('POST', '/auth/token', {
        body: { username: 'nobody', password: 'not the password' },
      });
      expectError(wrong, 401, 'UNAUTHORIZED');
      expectError(unknown, 401, 'UNAUTHORIZED');
      expect(wrong.body.error.message).to.equal(unknown.body.error.message);
    });

    it('lists every broken field of a login or new-user body as {field, problem}', async () => {
      await freshMinute();
      const login = await request('POST', '/auth/token', {
        body: { password: 7, extra: true },
      });
      expectError(login, 400, 'INVALID_REQUEST');
      expect(
        login.body.error.details.errors.map((e: { field: string }) => e.field),
      ).to.have.members(['username', 'password', 'extra']);
      const user = await request('POST', '/api/admin/users', {
        token: tokens.admin,
        body: { username: '', role: 'root' },
      });
      expectError(user, 400, 'INVALID_REQUEST');
      expect(
        user.body.error.details.errors.map((e: { field: string }) => e.field),
      ).to.have.members(['password', 'username', 'role']);
      for (const problem of user.body.error.details.errors) {
        expect(problem.problem).to.be.a('string').and.not.equal('');
      }
    });
  });

  describe('rate limits on the injected clock', () => {
    before(freshMinute);

    it('counts a route in its own tier however its path is spelled', async () => {
      await freshMinute();
      const order = await request('POST', '/API/Trading/ORDER/', {
        token: tokens.trader,
        body: marketOrder(),
      });
      expect(order.headers.get('x-ratelimit-limit')).to.equal('50');
      const events = await request('GET', '/API/Events/?limit=1', {
        token: tokens.auditor,
      });
      expect(events.status).to.equal(200);
      expect(events.headers.get('x-ratelimit-limit')).to.equal('10');
    });

    it('answers the 101st public request in a minute 429, then resets', async () => {
      clock += 61_000;
      const windowEnd = Math.ceil((clock + 60_000) / 1000);
      for (let i = 1; i <= 100; i++) {
        const res = await request('GET', '/');
        expect(res.status).to.equal(200);
        expect(res.headers.get('x-ratelimit-limit')).to.equal('100');
        expect(res.headers.get('x-ratelimit-remaining')).to.equal(
          String(100 - i),
        );
        expect(res.headers.get('x-ratelimit-reset')).to.equal(
          String(windowEnd),
        );
        expect(res.headers.get('retry-after')).to.equal(null);
      }

      const limited = await request('GET', '/');
      expectError(limited, 429, 'RATE_LIMITED');
      expect(limited.headers.get('x-ratelimit-limit')).to.equal('100');
      expect(limited.headers.get('x-ratelimit-remaining')).to.equal('0');
      expect(limited.headers.get('x-ratelimit-reset')).to.equal(
        String(windowEnd),
      );
      expect(limited.headers.get('retry-after')).to.equal('60');
      // Health probes are never limited, so monitoring keeps working.
      const health = await request('GET', '/api/health');
      expect(health.status).to.equal(200);
      expect(health.headers.get('x-ratelimit-limit')).to.equal(null);

      clock += 45_000;
      const later = await request('GET', '/');
      expect(later.status).to.equal(429);
      expect(later.headers.get('retry-after')).to.equal('15');

      clock += 15_000;
      const reset = await request('GET', '/');
      expect(reset.status).to.equal(200);
      expect(reset.headers.get('x-ratelimit-remaining')).to.equal('99');
      expect(reset.headers.get('x-ratelimit-reset')).to.equal(
        String(Math.ceil((clock + 60_000) / 1000)),
      );
    });

    it('answers the 51st order in a minute 429 and writes nothing for it', async () => {
      await freshMinute();
      for (let i = 1; i <= 50; i++) {
        const res = await request('POST', '/api/trading/order', {
          token: tokens.trader,
          body: marketOrder(i % 2 ? 'BUY' : 'SELL'),
        });
        expect(res.status, res.text).to.equal(200);
        expect(res.headers.get('x-ratelimit-limit')).to.equal('50');
        expect(res.headers.get('x-ratelimit-remaining')).to.equal(
          String(50 - i),
        );
      }
      const head = await mirai.store.headPosition();
      const limited = await request('POST', '/api/trading/order', {
        token: tokens.trader,
        body: marketOrder(),
      });
      expectError(limited, 429, 'RATE_LIMITED');
      expect(limited.body.error.details.tier).to.equal('trading');
      expect(limited.headers.get('retry-after')).to.equal('60');
      expect(await mirai.store.headPosition()).to.equal(head);

      // Another user has an allowance of its own.
      const other = await request('POST', '/api/trading/order', {
        token: tokens.auditor,
        body: marketOrder('SELL'),
      });
      expect(other.status, other.text).to.equal(200);
    });

    it('answers the 11th bulk request in a minute 429', async () => {
      await freshMinute();
      for (let i = 1; i <= 10; i++) {
        const res = await request('GET', '/api/events?limit=1000', {
          token: tokens.auditor,
        });
        expect(res.status, res.text).to.equal(200);
        expect(res.headers.get('x-ratelimit-limit')).to.equal('10');
        expect(res.headers.get('x-ratelimit-remaining')).to.equal(
          String(10 - i),
        );
      }
      const limited = await request('GET', '/api/events', {
        token: tokens.auditor,
      });
      expectError(limited, 429, 'RATE_LIMITED');
      expect(limited.body.error.details.tier).to.equal('bulk');
      // The bulk allowance is its own: public reads still pass.
      const read = await request('GET', '/api/trading/positions', {
        token: tokens.auditor,
      });
      expect(read.status).to.equal(200);
    });
  });

  describe('/api/metrics', () => {
    before(freshMinute);

    const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
    const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\\\\n]|\\\\[\\\\"n])*"';
    const VALUE = '(-?\\d+(\\.\\d+)?([eE][+-]?\\d+)?|NaN|[+-]Inf)';
    const SAMPLE = new RegExp(
      `^${NAME}(\\{(${LABEL},?)*\\})? ${VALUE}( -?\\d+)?$`,
    );
    const COMMENT = new RegExp(
      `^# (HELP ${NAME} .*|TYPE ${NAME} ` +
        '(counter|gauge|histogram|summary|untyped))$',
    );

    const scrape = async () => {
      const res = await request('GET', '/api/metrics');
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(
        /^text\/plain; version=0\.0\.4/,
      );
      return res.text;
    };

    /** The value of a sample with exactly these labels; 0 when absent. */
    const sampleValue = (
      text: string,
      name: string,
      labels: Record<string, string>,
    ) => {
      for (const line of text.split('\n')) {
        const match = /^([^{ ]+)(?:\{(.*)\})? (\S+)/.exec(line);
        if (!match || match[1] !== name) continue;
        const found = Object.fromEntries(
          [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [
            m[1],
            m[2],
          ]),
        );
        const sorted = (o: object) => JSON.stringify(Object.entries(o).sort());
        if (sorted(found) === sorted(labels)) {
          return Number(match[3]);
        }
      }
      return 0;
    };

    /** `trading_orders_total` for these labels in `text`. */
    const ordersCounted = (text: string, labels: Record<string, string>) =>
      sampleValue(text, 'trading_orders_total', labels);

    it('serves text in which every line is a comment or a sample', async () => {
      const text = await scrape();
      const lines = text.split('\n').filter((line) => line !== '');
      expect(lines.length).to.be.greaterThan(50);
      for (const line of lines) {
        const pattern = line.startsWith('#') ? COMMENT : SAMPLE;
        expect(line, 'not exposition format').to.match(pattern);
      }
      expect(text).to.contain('# TYPE trading_orders_total counter\n');
      expect(text).to.contain(
        '# TYPE http_request_duration_seconds histogram\n',
      );
      expect(text).to.contain(
        '# TYPE process_cpu_user_seconds_total counter\n',
      );
    });

    it('counts exactly the filled orders placed', async () => {
      const labels = { symbol: 'BTCUSDT', side: 'buy', status: 'filled' };
      const before = ordersCounted(await scrape(), labels);
      for (let i = 0; i < 7; i++) {
        const res = await request('POST', '/api/trading/order', {
          token: tokens.trader,
          body: marketOrder('BUY'),
        });
        expect(res.body.status).to.equal('FILLED');
      }
      // Rejected and resting orders must not count as filled buys.
      await request('POST', '/api/trading/order', {
        token: tokens.trader,
        body: marketOrder('BUY', 1e9),
      });
      await request('POST', '/api/trading/order', {
        token: tokens.trader,
        body: restingOrder,
      });
      const text = await scrape();
      expect(ordersCounted(text, labels)).to.equal(before + 7);
      expect(text).to.match(
        /^trading_orders_total\{symbol="BTCUSDT",side="buy",status="filled"\} \d+$/m,
      );
    });

    it('sums realized PnL as decimals, without float noise', async () => {
      let position = '';
      for (let i = 0; i < 6; i++) {
        const placed = await request('POST', '/api/trading/order', {
          token: tokens.trader,
          body: marketOrder(i % 2 ? 'SELL' : 'BUY', 0.013),
        });
        position = placed.headers.get('x-mirai-position') ?? '';
      }
      const trades = await request(
        'GET',
        '/api/trading/trades?symbol=BTCUSDT&limit=1000' +
          `&wait_for_position=${position}`,
      );
      const sum = (trades.body.trades as { pnl: number }[]).reduce(
        (total, trade) => total.plus(String(trade.pnl)),
        new Decimal(0),
      );
      expect(sum.isZero()).to.equal(false);
      const gauge = /^trading_pnl_total\{symbol="BTCUSDT"\} (\S+)$/m.exec(
        await scrape(),
      );
      expect(gauge?.[1]).to.equal(String(sum.toNumber()));
    });

    it('counts orders for symbols it does not trade under one unsupported series', async () => {
      for (const symbol of ['ZZZUSDT', 'QQQ\u0001']) {
        const res = await request('POST', '/api/trading/order', {
          token: tokens.trader,
          body: { ...marketOrder('BUY'), symbol },
        });
        expect(res.body.error.code).to.equal('INVALID_SYMBOL');
      }
      const text = await scrape();
      expect(text).not.to.contain('ZZZUSDT');
      expect(text).not.to.contain('QQQ');
      expect(
        ordersCounted(text, {
          symbol: 'unsupported',
          side: 'buy',
          status: 'rejected',
        }),
      ).to.be.at.least(2);
    });

    it("counts a cancel under its order's side", async () => {
      const labels = { symbol: 'BTCUSDT', side: 'buy', status: 'cancelled' };
      const before = ordersCounted(await scrape(), labels);
      const placed = await request('POST', '/api/trading/order', {
        token: tokens.trader,
        body: restingOrder,
      });
      const cancel = await request(
        'DELETE',
        `/api/trading/orders/${placed.body.order_id}`,
        { token: tokens.trader },
      );
      expect(cancel.status).to.equal(200);
      const text = await scrape();
      expect(ordersCounted(text, labels)).to.equal(before + 1);
      expect(text).not.to.match(/trading_orders_total\{[^}]*side="none"/);
    });

    it("labels durations by the code's route pattern: any URL case, errors inside routers, clients that left", async () => {
      const DURATIONS = 'http_request_duration_seconds_count';
      const count = (
        text: string,
        method: string,
        route: string,
        status: string,
      ) => sampleValue(text, DURATIONS, { method, route, status_code: status });
      const before = await scrape();

      // Three spellings of one route: one series, named as in the code.
      for (const url of [
        '/api/trading/positions',
        '/API/TRADING/positions',
        '/Api/Trading/positions/',
      ]) {
        expect((await request('GET', url)).status).to.equal(200);
      }
      // A router's root is labelled with its mount path alone.
      const events = await request('GET', '/api/events/?limit=1', {
        token: tokens.admin,
      });
      expect(events.status).to.equal(200);
      // An error thrown inside the mounted router keeps its route.
      const bad = await request('GET', '/api/trading/trades?limit=abc');
      expect(bad.status).to.equal(400);
      // A method no route takes leaves no route behind: unmatched.
      expect((await request('HEAD', '/api/trading/order')).status).to.equal(
        404,
      );

      // A client that leaves a read waiting for a far position gets
      // nothing; it is counted as 499, not as the 200 Node presets.
      const head = await mirai.store.headPosition();
      const controller = new AbortController();
      const abandoned = fetch(
        `${mirai.url}/api/trading/account?wait_for_position=${head + 1000n}`,
        { signal: controller.signal },
      ).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
      controller.abort();
      await abandoned;
      await new Promise((resolve) => setTimeout(resolve, 100));

      // A client that drops the connection halfway through its body is
      // not answered; it is counted as 499 too, not as a 400 sent.
      const { port } = new URL(mirai.url);
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write(
            'POST /api/trading/order HTTP/1.1\r\nHost: x\r\n' +
              `Authorization: Bearer ${tokens.trader}\r\n` +
              'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n' +
              '{"symbol":',
          );
          setTimeout(() => socket.destroy(), 100);
        });
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      await new Promise((resolve) => setTimeout(resolve, 100));

      const after = await scrape();
      const added = (method: string, route: string, status: string) =>
        count(after, method, route, status) -
        count(before, method, route, status);
      expect(added('GET', '/api/trading/positions', '200')).to.equal(3);
      expect(after).not.to.match(/route="\/API|route="\/Api/);
      expect(added('GET', '/api/trading/trades', '400')).to.equal(1);
      expect(added('GET', '/api/events', '200')).to.equal(1);
      expect(added('HEAD', 'unmatched', '404')).to.equal(1);
      expect(added('GET', '/api/trading/account', '499')).to.equal(1);
      expect(added('GET', '/api/trading/account', '200')).to.equal(0);
      expect(added('POST', 'unmatched', '499')).to.equal(1);
      expect(added('POST', 'unmatched', '400')).to.equal(0);
    });

    it('times every append the engine makes and reports how far each projection lags', async () => {
      const APPENDS = 'eventstore_append_duration_seconds_count';
      const before = sampleValue(await scrape(), APPENDS, {});
      for (let i = 0; i < 3; i++) {
        const res = await request('POST', '/api/trading/order', {
          token: tokens.trader,
          body: marketOrder('BUY'),
        });
        expect(res.body.status).to.equal('FILLED');
      }
      const head = await mirai.store.headPosition();
      expect(await mirai.projections.waitFor(head, 5_000)).to.equal(true);

      const text = await scrape();
      expect(sampleValue(text, APPENDS, {})).to.equal(before + 3);
      expect(mirai.projections.names()).to.have.length(9);
      for (const projection of mirai.projections.names()) {
        expect(text).to.match(
          new RegExp(
            `^projection_lag_events\\{projection="${projection}"\\} 0$`,
            'm',
          ),
        );
      }
    });
  });

  describe('hardening headers and errors', () => {
    before(freshMinute);

    it('sets security headers and no X-Powered-By, on success and error', async () => {
      for (const route of ['/api/health', '/api/nope']) {
        const res = await request('GET', route);
        expect(res.headers.get('x-powered-by')).to.equal(null);
        expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
        expect(res.headers.get('x-frame-options')).to.equal('DENY');
        expect(res.headers.get('referrer-policy')).to.equal('no-referrer');
        expect(res.headers.get('content-security-policy')).to.contain(
          "default-src 'none'",
        );
      }
    });

    it('echoes a sane request id in the header and the error details', async () => {
      const res = await request('GET', '/api/nope', {
        headers: { 'x-request-id': 'req-42.a:b_c' },
      });
      expect(res.headers.get('x-request-id')).to.equal('req-42.a:b_c');
      expect(res.body.error.details.request_id).to.equal('req-42.a:b_c');
    });

    it('replaces a request id that could smuggle text into logs', async () => {
      const res = await request('GET', '/api/nope', {
        headers: { 'x-request-id': 'evil id {"level":"info"}' },
      });
      const id = res.headers.get('x-request-id');
      expect(id).to.match(/^[0-9a-f-]{36}$/);
      expect(res.body.error.details.request_id).to.equal(id);
    });

    it('answers an unknown route 404 NOT_FOUND in the documented format', async () => {
      const res = await request('GET', '/api/nope');
      expectError(res, 404, 'NOT_FOUND');
      expect(res.body.error.timestamp).to.match(
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
      );
    });

    it('allows the configured CORS origin and no other', async () => {
      const preflight = await request('OPTIONS', '/api/trading/order', {
        headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
      });
      expect(preflight.status).to.equal(204);
      expect(preflight.headers.get('access-control-allow-origin')).to.equal(
        ORIGIN,
      );
      expect(preflight.headers.get('access-control-allow-headers')).to.contain(
        'Authorization',
      );

      const simple = await request('GET', '/api/health', {
        headers: { origin: ORIGIN },
      });
      expect(simple.headers.get('access-control-allow-origin')).to.equal(
        ORIGIN,
      );

      const stranger = await request('GET', '/api/health', {
        headers: { origin: 'https://evil.mirai.test' },
      });
      expect(stranger.headers.get('access-control-allow-origin')).to.equal(
        null,
      );
    });

    it('refuses a non-JSON body 415 and an oversized one 413', async () => {
      const form = await request('POST', '/api/trading/order', {
        token: tokens.trader,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expectError(form, 415, 'UNSUPPORTED_MEDIA_TYPE');
      const big = await request('POST', '/api/trading/order', {
        token: tokens.trader,
        body: { ...marketOrder(), strategy: 'x'.repeat(200_000) },
      });
      expectError(big, 413, 'PAYLOAD_TOO_LARGE');
    });
  });
});

describe('reads behind a token (readsRequireToken: true, e2e)', () => {
  let mirai: RunningMirai;

  before(async () => {
    const dataDir = tempDataDir();
    await addUser(path.join(dataDir, 'users.json'), 'vera', PASSWORD, 'viewer');
    mirai = await startMirai({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      logger: silentLogger,
      readsRequireToken: true,
      env: { MIRAI_ADMIN_PASSWORD: ADMIN_PASSWORD },
      feed: { kind: 'none' },
    });
  });
  after(async () => mirai?.close());

  it('answers a read without a token 401 and a viewer 200', async () => {
    for (const route of ['/api/trading/positions', '/api/trading/trades']) {
      const anonymous = await fetch(`${mirai.url}${route}`);
      expect(anonymous.status).to.equal(401);
      const body = (await anonymous.json()) as any;
      expect(body.error.code).to.equal('UNAUTHORIZED');

      const login = await fetch(`${mirai.url}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'vera', password: PASSWORD }),
      });
      const { access_token } = (await login.json()) as { access_token: string };
      const viewer = await fetch(`${mirai.url}${route}`, {
        headers: { authorization: `Bearer ${access_token}` },
      });
      expect(viewer.status).to.equal(200);
    }
  });
});
