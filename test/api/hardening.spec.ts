import { expect } from 'chai';
import {
  call,
  errorOf,
  startTestServer,
  type TestServer,
} from './support/testServer';

describe('hardening through a real server', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      allowedOrigins: ['https://dash.example.com'],
    });
  });
  after(() => server.close());

  const post = (body: string, contentType?: string) =>
    fetch(`${server.url}/api/trading/order`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${server.tokenFor('trader')}`,
        ...(contentType ? { 'Content-Type': contentType } : {}),
      },
      body,
    });

  it('answers 415 to a body that is not application/json', async () => {
    const response = await post('symbol=BTCUSDT', 'text/plain');
    expect(response.status).to.equal(415);
    expect((await errorOf(response)).code).to.equal('UNSUPPORTED_MEDIA_TYPE');
  });

  it('accepts application/json with a charset', async () => {
    const body = JSON.stringify({ symbol: 'BTCUSDT', side: 'BUY' });
    const response = await post(body, 'application/json; charset=utf-8');
    expect(response.status).to.equal(201);
  });

  it('answers 413 to a body over 100kb', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(101 * 1024) });
    const response = await post(body, 'application/json');
    expect(response.status).to.equal(413);
    expect((await errorOf(response)).code).to.equal('PAYLOAD_TOO_LARGE');
  });

  it('answers 400 to a body that is not JSON', async () => {
    for (const body of ['{"symbol": ', 'not json', '42', '"text"']) {
      const response = await post(body, 'application/json');
      expect(response.status, body).to.equal(400);
      expect((await errorOf(response)).code).to.equal('INVALID_REQUEST');
    }
  });

  it('answers 400 to a malformed percent-encoding in a path', async () => {
    const response = await call(`${server.url}/api/items/%E0%A4%A`);
    expect(response.status).to.equal(400);
    expect((await errorOf(response)).code).to.equal('INVALID_REQUEST');
  });

  it('answers 404 NOT_FOUND in the documented format', async () => {
    const response = await call(`${server.url}/api/nothing/here`);
    expect(response.status).to.equal(404);
    const error = await errorOf(response);
    expect(error.code).to.equal('NOT_FOUND');
    expect(error.timestamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('answers a lost revision race 409 CONFLICT, not 500', async () => {
    const response = await call(`${server.url}/api/conflict`);
    expect(response.status).to.equal(409);
    expect((await errorOf(response)).code).to.equal('CONFLICT');
  });

  it('answers a crash 500 with a request id, no stack trace', async () => {
    const response = await call(`${server.url}/api/boom`);
    const text = await response.text();

    expect(response.status).to.equal(500);
    const { error } = JSON.parse(text);
    expect(error.code).to.equal('INTERNAL_ERROR');
    expect(error.message).to.equal('Internal server error');
    expect(error.details.request_id).to.equal(
      response.headers.get('x-request-id'),
    );
    expect(text).to.not.match(/hunter2|secret\.ts|\s+at\s|stack/);

    const line = server.logged.find(
      (l) => l.request_id === error.details.request_id,
    );
    expect(line?.stack).to.be.a('string');
  });

  it('keeps a sane X-Request-Id and replaces an unsafe one', async () => {
    const kept = await call(`${server.url}/api/status`, {
      headers: { 'X-Request-Id': 'client-abc.123' },
    });
    expect(kept.headers.get('x-request-id')).to.equal('client-abc.123');

    const replaced = await call(`${server.url}/api/status`, {
      headers: { 'X-Request-Id': 'bad id with spaces"' },
    });
    expect(replaced.headers.get('x-request-id')).to.match(
      /^[0-9a-f]{8}-[0-9a-f]{4}-/,
    );
  });

  it('sets the security headers and hides X-Powered-By', async () => {
    const response = await call(`${server.url}/api/status`);
    expect(response.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(response.headers.get('x-frame-options')).to.equal('DENY');
    expect(response.headers.get('referrer-policy')).to.equal('no-referrer');
    expect(response.headers.get('content-security-policy')).to.match(
      /^default-src 'none'/,
    );
    expect(response.headers.get('x-powered-by')).to.equal(null);
  });

  it('adds no CORS headers, not even Vary, when no origin is allowed', async () => {
    const closed = await startTestServer();
    try {
      const response = await call(`${closed.url}/api/status`, {
        headers: { Origin: 'https://dash.example.com' },
      });
      expect(response.headers.get('access-control-allow-origin')).to.equal(
        null,
      );
      expect(response.headers.get('vary')).to.equal(null);
    } finally {
      await closed.close();
    }
  });

  it('allows only the configured CORS origins', async () => {
    const allowed = await call(`${server.url}/api/status`, {
      headers: { Origin: 'https://dash.example.com' },
    });
    expect(allowed.headers.get('access-control-allow-origin')).to.equal(
      'https://dash.example.com',
    );
    // A browser page may read every header the README documents.
    const exposed = allowed.headers
      .get('access-control-expose-headers')
      ?.split(/,\s*/);
    expect(exposed).to.include.members([
      'X-Request-Id',
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
      'Retry-After',
      'X-Mirai-Position',
      'X-Mirai-Stale',
      'Idempotent-Replayed',
    ]);

    const other = await call(`${server.url}/api/status`, {
      headers: { Origin: 'https://evil.example.com' },
    });
    expect(other.headers.get('access-control-allow-origin')).to.equal(null);
    // Answers differ by Origin, so caches must key on it.
    expect(other.headers.get('vary')).to.equal('Origin');

    const preflight = await call(`${server.url}/api/trading/order`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://dash.example.com',
        'Access-Control-Request-Method': 'POST',
      },
    });
    expect(preflight.status).to.equal(204);
    expect(preflight.headers.get('access-control-allow-headers')).to.include(
      'Authorization',
    );
  });
});
