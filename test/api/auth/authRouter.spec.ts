import { expect } from 'chai';
import {
  call,
  errorOf,
  passwordOf,
  startTestServer,
  type TestServer,
} from '../support/testServer';

interface TokenBody {
  access_token: string;
  refresh_token?: string;
  token_type: string;
  expires_in: number;
  role: string;
}

const tokensIn = async (response: Response) =>
  (await response.json()) as TokenBody;

describe('POST /auth/token and /auth/refresh', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ readsRequireToken: true });
  });
  after(() => server.close());

  const login = (username: string, password: string) =>
    call(`${server.url}/auth/token`, {
      method: 'POST',
      body: { username, password },
    });

  it('issues access and refresh tokens for the right password', async () => {
    const response = await login('trader', passwordOf('trader'));

    expect(response.status).to.equal(200);
    expect(response.headers.get('cache-control')).to.equal('no-store');
    const body = await tokensIn(response);
    expect(body).to.include({
      token_type: 'bearer',
      expires_in: 900,
      role: 'trader',
    });
    expect(body.access_token).to.be.a('string');
    expect(body.refresh_token).to.be.a('string');

    const order = await call(`${server.url}/api/trading/order`, {
      method: 'POST',
      token: body.access_token,
      body: { symbol: 'BTCUSDT', side: 'BUY' },
    });
    expect(order.status).to.equal(201);
  });

  it('answers 401, one message, to a wrong password or user', async () => {
    const wrong = await login('trader', 'not-the-password');
    const unknown = await login('nobody', 'not-the-password');

    expect(wrong.status).to.equal(401);
    expect(unknown.status).to.equal(401);
    const [a, b] = [await errorOf(wrong), await errorOf(unknown)];
    expect(a.code).to.equal('UNAUTHORIZED');
    expect(a.message).to.equal(b.message);
  });

  it('answers 400 INVALID_REQUEST to a body of the wrong shape', async () => {
    for (const body of [
      {},
      { username: 'trader' },
      { username: 1, password: 'x' },
      { username: 'trader', password: 'x', extra: true },
      { username: 'trader', password: 'x'.repeat(2000) },
      [],
    ]) {
      const response = await call(`${server.url}/auth/token`, {
        method: 'POST',
        body,
      });
      expect(response.status, JSON.stringify(body)).to.equal(400);
      expect((await errorOf(response)).code).to.equal('INVALID_REQUEST');
    }
  });

  it('issues a new access token for a refresh token', async () => {
    const tokens = await tokensIn(
      await login('auditor', passwordOf('auditor')),
    );

    // The access token expires; the refresh token lives 30 days.
    server.clock.ms += 60 * 60 * 1000;
    const stale = await call(`${server.url}/api/audit/events`, {
      token: tokens.access_token,
    });
    expect(stale.status).to.equal(401);

    const refreshed = await call(`${server.url}/auth/refresh`, {
      method: 'POST',
      body: { refresh_token: tokens.refresh_token },
    });
    expect(refreshed.status).to.equal(200);
    const body = await tokensIn(refreshed);
    expect(body).to.include({ token_type: 'bearer', role: 'auditor' });
    expect(body).to.not.have.property('refresh_token');

    const fresh = await call(`${server.url}/api/audit/events`, {
      token: body.access_token,
    });
    expect(fresh.status).to.equal(200);
  });

  it('refuses an access token at /auth/refresh', async () => {
    const response = await call(`${server.url}/auth/refresh`, {
      method: 'POST',
      body: { refresh_token: server.tokenFor('admin') },
    });
    expect(response.status).to.equal(401);
    expect((await errorOf(response)).code).to.equal('UNAUTHORIZED');
  });

  it('refuses a refresh token for a user not in the users file', async () => {
    const ghost = { username: 'ghost', role: 'admin' as const };
    const response = await call(`${server.url}/auth/refresh`, {
      method: 'POST',
      body: { refresh_token: server.tokens.issue(ghost, 'refresh').token },
    });
    expect(response.status).to.equal(401);
  });

  it('refuses an expired refresh token', async () => {
    const user = { username: 'viewer', role: 'viewer' as const };
    const refresh = server.tokens.issue(user, 'refresh').token;
    server.clock.ms += 31 * 24 * 60 * 60 * 1000;

    const response = await call(`${server.url}/auth/refresh`, {
      method: 'POST',
      body: { refresh_token: refresh },
    });
    expect(response.status).to.equal(401);
    expect((await errorOf(response)).message).to.equal('Token expired');
  });
});
