import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import {
  authenticateRequest,
  authenticateToken,
} from '../../../api/auth/authMiddleware';
import { type Role, ROLES } from '../../../infrastructure/auth';
import {
  call,
  errorOf,
  SECRET,
  startTestServer,
  type TestServer,
} from '../support/testServer';

const ROUTES = {
  read: { method: 'GET', path: '/api/status', minRole: 'viewer' },
  trade: { method: 'POST', path: '/api/trading/order', minRole: 'trader' },
  audit: { method: 'GET', path: '/api/audit/events', minRole: 'auditor' },
  admin: {
    method: 'POST',
    path: '/api/admin/cache/invalidate',
    minRole: 'admin',
  },
} as const;

const ORDER = { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: 1 };

const base64url = (value: object) =>
  Buffer.from(JSON.stringify(value)).toString('base64url');

describe('authenticate and requireRole through a real server', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ readsRequireToken: true });
  });
  after(() => server.close());

  describe('each role against each kind of route', () => {
    for (const role of ROLES) {
      for (const [kind, route] of Object.entries(ROUTES)) {
        const allowed = ROLES.indexOf(role) >= ROLES.indexOf(route.minRole);
        it(`${allowed ? 'lets' : 'forbids'} ${role} ${kind}`, async () => {
          const response = await call(`${server.url}${route.path}`, {
            method: route.method,
            token: server.tokenFor(role),
            body: route.method === 'POST' ? ORDER : undefined,
          });

          if (allowed) {
            expect(response.status).to.be.oneOf([200, 201]);
          } else {
            expect(response.status).to.equal(403);
            expect((await errorOf(response)).code).to.equal('FORBIDDEN');
          }
        });
      }
    }

    for (const [kind, route] of Object.entries(ROUTES)) {
      it(`answers 401 to ${kind} without a token`, async () => {
        const response = await call(`${server.url}${route.path}`, {
          method: route.method,
          body: route.method === 'POST' ? ORDER : undefined,
        });
        expect(response.status).to.equal(401);
        expect(response.headers.get('www-authenticate')).to.match(/^Bearer/);
        expect((await errorOf(response)).code).to.equal('UNAUTHORIZED');
      });
    }
  });

  describe('bad tokens', () => {
    const badTokens: Record<string, (s: TestServer) => string> = {
      malformed: () => 'not-a-jwt',
      'three garbage parts': () => 'abc.def.ghi',
      'wrongly signed': () =>
        jwt.sign(
          { sub: 'admin', role: 'admin', typ: 'access', iss: 'mirai' },
          'another-secret-another-secret-another',
          { algorithm: 'HS256', expiresIn: 600 },
        ),
      'signed with HS512': () =>
        jwt.sign(
          { sub: 'admin', role: 'admin', typ: 'access', iss: 'mirai' },
          SECRET,
          { algorithm: 'HS512', expiresIn: 600 },
        ),
      'alg none': (s) => {
        const iat = Math.floor(s.clock.ms / 1000);
        const header = base64url({ alg: 'none', typ: 'JWT' });
        const claims = base64url({
          sub: 'admin',
          role: 'admin',
          typ: 'access',
          iss: 'mirai',
          iat,
          exp: iat + 600,
        });
        return `${header}.${claims}.`;
      },
      'a refresh token used as access': (s) =>
        s.tokens.issue({ username: 'admin', role: 'admin' }, 'refresh').token,
      'an unknown role': () =>
        jwt.sign(
          { sub: 'x', role: 'root', typ: 'access', iss: 'mirai' },
          SECRET,
          { algorithm: 'HS256', expiresIn: 600 },
        ),
    };

    for (const [kind, make] of Object.entries(badTokens)) {
      for (const route of [ROUTES.read, ROUTES.admin]) {
        it(`answers 401 to ${kind} on ${route.method}`, async () => {
          const response = await call(`${server.url}${route.path}`, {
            method: route.method,
            token: make(server),
            body: route.method === 'POST' ? {} : undefined,
          });
          expect(response.status).to.equal(401);
          const error = await errorOf(response);
          expect(error.code).to.equal('UNAUTHORIZED');
          expect(error.message).to.equal('Invalid token');
        });
      }
    }

    it('answers 401 "Token expired" after 15 minutes', async () => {
      const token = server.tokenFor('admin');
      const fresh = await call(`${server.url}/api/audit/events`, { token });
      expect(fresh.status).to.equal(200);

      server.clock.ms += 15 * 60 * 1000 + 1000;
      const stale = await call(`${server.url}/api/audit/events`, { token });

      expect(stale.status).to.equal(401);
      expect((await errorOf(stale)).message).to.equal('Token expired');
    });

    it('answers 401 to an Authorization that is not Bearer', async () => {
      const response = await call(`${server.url}/api/status`, {
        headers: { Authorization: 'Basic YWRtaW46YWRtaW4=' },
      });
      expect(response.status).to.equal(401);
    });

    it('ignores ?token= on a plain HTTP request', async () => {
      const token = server.tokenFor('admin');
      const response = await call(`${server.url}/api/status?token=${token}`);
      expect(response.status).to.equal(401);
    });

    it('ignores ?token= on an HTTP request carrying upgrade headers', async () => {
      const token = server.tokenFor('admin');
      const body = JSON.stringify(ORDER);
      const head = await rawHead(
        server.url,
        `POST /api/trading/order?token=${token} HTTP/1.1\r\n` +
          'Host: 127.0.0.1\r\nUpgrade: websocket\r\n' +
          'Connection: Upgrade\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      expect(head).to.match(/^HTTP\/1\.1 401 /);
    });

    it('answers 401, not 500, to an unparsable URL with upgrade headers', async () => {
      const head = await rawHead(
        server.url,
        'GET //x:99999/api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
          'Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      );
      expect(head).to.match(/^HTTP\/1\.1 401 /);
    });
  });
});

/** The first line of the answer to raw request bytes. */
const rawHead = (url: string, bytes: string) =>
  new Promise<string>((resolve, reject) => {
    const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString();
      if (text.includes('\r\n')) {
        socket.destroy();
        resolve(text.slice(0, text.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
    socket.write(bytes);
  });

describe('authenticate with open reads (simulation mode)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ readsRequireToken: false });
  });
  after(() => server.close());

  it('serves a read without a token', async () => {
    const response = await call(`${server.url}/api/status`);
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({ ok: true, user: null });
  });

  it('still sets the user when a read carries a token', async () => {
    const response = await call(`${server.url}/api/status`, {
      token: server.tokenFor('viewer'),
    });
    const body = (await response.json()) as { user: unknown };
    expect(body.user).to.deep.equal({
      username: 'viewer',
      role: 'viewer',
    });
  });

  it('still rejects a read carrying a bad token', async () => {
    const response = await call(`${server.url}/api/status`, {
      token: 'garbage',
    });
    expect(response.status).to.equal(401);
  });

  it('still needs a token to write', async () => {
    const response = await call(`${server.url}/api/trading/order`, {
      method: 'POST',
      body: ORDER,
    });
    expect(response.status).to.equal(401);
  });

  it('still needs the auditor role for raw events', async () => {
    const response = await call(`${server.url}/api/audit/events`);
    expect(response.status).to.equal(401);
  });
});

describe('authenticateToken and authenticateRequest for upgrades', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const upgrade = (url: string, headers: Record<string, string> = {}) =>
    ({
      url,
      headers: { upgrade: 'websocket', connection: 'Upgrade', ...headers },
    }) as unknown as IncomingMessage;

  it('reads the token from the query string of an upgrade', () => {
    const token = server.tokenFor('trader');
    const req = upgrade(`/ws?token=${token}`);
    const user = authenticateRequest(server.tokens, req, { query: true });
    expect(user).to.deep.equal({ username: 'trader', role: 'trader' });
  });

  it('reads the token from the Authorization header of an upgrade', () => {
    const token = server.tokenFor('viewer');
    const req = upgrade('/ws', { authorization: `Bearer ${token}` });
    expect(authenticateRequest(server.tokens, req)?.role).to.equal('viewer');
  });

  it('gives undefined for an upgrade without a token', () => {
    expect(
      authenticateRequest(server.tokens, upgrade('/ws'), { query: true }),
    ).to.equal(undefined);
  });

  it('takes no query token unless asked to, even with upgrade headers', () => {
    const req = upgrade(`/ws?token=${server.tokenFor('trader')}`);
    expect(authenticateRequest(server.tokens, req)).to.equal(undefined);
  });

  it('answers UNAUTHORIZED, not a crash, to an upgrade URL that does not parse', () => {
    expect(() =>
      authenticateRequest(server.tokens, upgrade('//x:99999/ws'), {
        query: true,
      }),
    )
      .to.throw()
      .with.property('code', 'UNAUTHORIZED');
  });

  it('throws UNAUTHORIZED for a bad or missing token', () => {
    for (const token of [undefined, '', 'garbage']) {
      expect(() => authenticateToken(server.tokens, token))
        .to.throw()
        .with.property('code', 'UNAUTHORIZED');
    }
  });

  it('refuses a refresh token', () => {
    const user = { username: 'admin', role: 'admin' as Role };
    const refresh = server.tokens.issue(user, 'refresh').token;
    expect(() => authenticateToken(server.tokens, refresh))
      .to.throw()
      .with.property('code', 'UNAUTHORIZED');
  });
});
