import { expect } from 'chai';
import path from 'node:path';
import {
  MARKET_DATA,
  startTestServer,
  tempDataDir,
  TestServer,
} from '../support/testServer';

/**
 * Every kind of bad order over HTTP gets the documented error and leaves
 * the store with exactly one rejection event or nothing.
 */
describe('bad orders over HTTP (e2e)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      dataDir: tempDataDir(),
      // BTC prices only, so ETHUSDT has no price: MARKET_CLOSED.
      feed: {
        kind: 'file',
        files: [path.join(MARKET_DATA, 'BTC_USDT-1h.json')],
        speed: 'max',
        maxCandles: 20,
      },
    });
  });
  after(async () => server?.running.close());

  // Events of the account: the alerts process manager may add its own
  // (a burst of rejections is an alert) to `system` at any moment.
  const newEvents = async (since: bigint) =>
    (await server.running.store.readAll({ fromPosition: since + 1n })).filter(
      (event) => event.streamId !== 'system',
    );

  const expectError = async (
    body: unknown,
    status: number,
    code: string,
    stored: 'rejection' | 'nothing',
    headers: Record<string, string> = {},
  ) => {
    const head = await server.running.store.headPosition();
    const res = await server.call('POST', '/api/trading/order', body, headers);
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    expect(Object.keys(res.body.error)).to.deep.equal([
      'code',
      'message',
      'details',
      'timestamp',
    ]);
    expect(res.body.error.code).to.equal(code);
    expect(res.body.error.message)
      .to.be.a('string')
      .and.not.match(/at .*\.ts/);
    expect(res.body.error.timestamp).to.match(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    const written = await newEvents(head);
    if (stored === 'nothing') {
      expect(written.map((e) => e.type)).to.deep.equal([]);
    } else {
      expect(written.map((e) => e.type)).to.deep.equal(['OrderRejected']);
      expect(written[0].data.code).to.equal(code);
    }
    return res.body;
  };

  const order = (fields: Record<string, unknown>) => ({
    symbol: 'BTCUSDT',
    side: 'BUY',
    type: 'MARKET',
    quantity: 0.001,
    ...fields,
  });

  it('rejects an unknown symbol and lists the supported ones', async () => {
    const body = await expectError(
      order({ symbol: 'INVALID' }),
      400,
      'INVALID_SYMBOL',
      'rejection',
    );
    expect(body.error.details.supported_symbols).to.deep.equal([
      'BTCUSDT',
      'ETHUSDT',
      'ADAUSDT',
    ]);
  });

  for (const quantity of [0, -0.001, 0.000001, 1e-12]) {
    it(`rejects quantity ${quantity} with INVALID_QUANTITY`, async () => {
      await expectError(
        order({ quantity }),
        400,
        'INVALID_QUANTITY',
        'rejection',
      );
    });
  }

  it('quotes an extreme quantity or price briefly in its message', async () => {
    for (const fields of [
      { quantity: 1e-320 },
      { quantity: '0.000000000000000000000000000001' },
      { type: 'LIMIT', price: 1e-300 },
    ]) {
      const res = await server.call(
        'POST',
        '/api/trading/order',
        order(fields),
      );
      expect(res.status).to.equal(400);
      expect(res.body.error.message.length, res.body.error.message).to.be.below(
        120,
      );
    }
  });

  it('rejects a string where the quantity number belongs, storing nothing', async () => {
    await expectError(
      order({ quantity: 'abc' }),
      400,
      'INVALID_QUANTITY',
      'nothing',
    );
    await expectError(
      order({ quantity: '0.001' }),
      400,
      'INVALID_QUANTITY',
      'nothing',
    );
  });

  it('rejects a string price with INVALID_PRICE, storing nothing', async () => {
    const body = await expectError(
      order({ type: 'LIMIT', price: 'cheap' }),
      400,
      'INVALID_PRICE',
      'nothing',
    );
    expect(body.error.message).to.equal("'price' must be a number or null");
  });

  it('rejects a missing or non-string symbol with INVALID_SYMBOL, storing nothing', async () => {
    for (const symbol of [undefined, 5, '']) {
      const body = await expectError(
        { ...order({}), symbol },
        400,
        'INVALID_SYMBOL',
        'nothing',
      );
      expect(body.error.details.supported_symbols).to.include('BTCUSDT');
    }
  });

  it('rejects missing fields and names them', async () => {
    const body = await expectError(
      { symbol: 'BTCUSDT' },
      400,
      'INVALID_REQUEST',
      'nothing',
    );
    const fields = body.error.details.errors.map(
      (e: { field: string }) => e.field,
    );
    expect(fields).to.include.members(['side', 'type', 'quantity']);
    expect(body.error.message).to.match(/^'(side|type|quantity)' is required$/);
  });

  it('rejects unknown fields and a bad side', async () => {
    await expectError(
      order({ sidee: 'BUY' }),
      400,
      'INVALID_REQUEST',
      'nothing',
    );
    const side = await expectError(
      order({ side: 'buy' }),
      400,
      'INVALID_REQUEST',
      'nothing',
    );
    // The message says what would have been right.
    expect(side.error.message).to.equal("'side' must be one of BUY, SELL");
    const renamed = await expectError(
      { ...order({}), quantity: undefined, qty: 0.01 },
      400,
      'INVALID_QUANTITY',
      'nothing',
    );
    expect(renamed.error.details.errors).to.deep.include({
      field: 'qty',
      problem: 'is not a field this request takes',
    });
  });

  it('rejects a body that is not JSON, saying where it breaks', async () => {
    const cut = await expectError(
      '{"symbol":',
      400,
      'INVALID_REQUEST',
      'nothing',
    );
    expect(cut.error.message).to.equal(
      'Request body is not valid JSON: it ends too soon',
    );
    const unquoted = await expectError(
      '{"symbol":"ETHUSDT",side:"BUY"}',
      400,
      'INVALID_REQUEST',
      'nothing',
    );
    expect(unquoted.error.message).to.match(
      /^Request body is not valid JSON: .+ at character 20$/,
    );
    expect(unquoted.error.details.position).to.equal(20);
  });

  it('rejects a JSON body that is not an object', async () => {
    await expectError('[1,2,3]', 400, 'INVALID_REQUEST', 'nothing');
    const text = await expectError(
      '"BTCUSDT"',
      400,
      'INVALID_REQUEST',
      'nothing',
    );
    expect(text.error.message).to.equal(
      'Request body must be a JSON object or array',
    );
  });

  it('rejects a 10 MB body with PAYLOAD_TOO_LARGE', async () => {
    const huge = JSON.stringify(
      order({ strategy: 'x'.repeat(10 * 1024 * 1024) }),
    );
    await expectError(huge, 413, 'PAYLOAD_TOO_LARGE', 'nothing');
  });

  it('rejects a body that is not application/json', async () => {
    await expectError(
      JSON.stringify(order({})),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'nothing',
      {
        'content-type': 'text/plain',
      },
    );
  });

  it('rejects a JSON body declared in a charset other than UTF-8', async () => {
    for (const charset of ['utf-16', 'UTF-16LE', 'latin1', '"iso-8859-1"']) {
      await expectError(
        JSON.stringify(order({})),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        'nothing',
        { 'content-type': `application/json; charset=${charset}` },
      );
    }
    // UTF-8, however it is spelled, is JSON's own charset.
    const res = await fetch(`${server.url}/api/trading/order`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${server.token}`,
        'content-type': 'application/json; Charset="UTF-8"',
      },
      body: JSON.stringify(order({})),
    });
    expect(res.status).to.equal(200);
  });

  it('rejects a LIMIT order without a price', async () => {
    await expectError(
      order({ type: 'LIMIT' }),
      400,
      'INVALID_PRICE',
      'rejection',
    );
    await expectError(
      order({ type: 'LIMIT', price: null }),
      400,
      'INVALID_PRICE',
      'rejection',
    );
  });

  it('rejects a take-profit above the highest BTCUSDT price', async () => {
    await expectError(
      order({ take_profit: 1.7976931348623157e308 }),
      400,
      'INVALID_PRICE',
      'rejection',
    );
  });

  it('rejects a stop-loss on the wrong side of a BUY', async () => {
    await expectError(
      order({ stop_loss: 1_000_000 }),
      400,
      'INVALID_PRICE',
      'rejection',
    );
  });

  it('rejects an order larger than the balance with INSUFFICIENT_BALANCE', async () => {
    await expectError(
      order({ quantity: 10 }),
      400,
      'INSUFFICIENT_BALANCE',
      'rejection',
    );
  });

  it('rejects a symbol without a fresh price with MARKET_CLOSED', async () => {
    await expectError(
      order({ symbol: 'ETHUSDT', quantity: 0.01 }),
      503,
      'MARKET_CLOSED',
      'rejection',
    );
  });

  it('still trades and stays healthy after all of that', async () => {
    const res = await server.call('POST', '/api/trading/order', order({}));
    expect(res.status).to.equal(200);
    expect(res.body.status).to.equal('FILLED');
    const health = await server.call('GET', '/api/health');
    expect(health.body.status).to.equal('healthy');
    // No partial order anywhere: every placed order was filled in the
    // same append, and every rejection stands alone.
    const events = await server.running.store.readStream('account-main');
    const placed = events.filter((e) => e.type === 'OrderPlaced').length;
    const filled = events.filter((e) => e.type === 'OrderFilled').length;
    expect(placed).to.equal(filled);
  });
});
