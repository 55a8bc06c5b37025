import { expect } from 'chai';
import fc from 'fast-check';
import path from 'node:path';
import { STATUS_BY_CODE } from '../../api/errorResponse';
import {
  ACCOUNT_EVENT_TYPES,
  type AccountEvent,
  accountStream,
  evolve,
  initialAccountState,
  type OpenOrder,
} from '../../domain/account';
import { Decimal } from '../../domain/money';
import { expectTotalsMatchOrders } from '../support/accountTotals';
import { addUser } from '../../infrastructure/auth';
import {
  MARKET_DATA,
  startTestServer,
  tempDataDir,
  TestServer,
} from '../support/testServer';

const RUNS = 3000;
const DECIMAL = /^-?\d+(\.\d+)?$/;
const ERROR_KEYS = ['code', 'message', 'details', 'timestamp'];
const VIEWER_PASSWORD = 'viewer-password';

/** Amount fields of each account event, all decimal strings. */
const AMOUNTS: Record<string, { required: string[]; nullable?: string[] }> = {
  AccountOpened: { required: [] },
  FundsDeposited: { required: ['amount'] },
  OrderPlaced: {
    required: ['quantity', 'reservedMargin'],
    nullable: ['price', 'triggerPrice', 'stopLoss', 'takeProfit'],
  },
  OrderRejected: { required: [] },
  OrderFilled: {
    required: [
      'price',
      'quantity',
      'fee',
      'grossPnl',
      'realizedPnl',
      'closedQuantity',
      'cashDelta',
      'remainingQuantity',
    ],
  },
  OrderCancelled: { required: [] },
};

/** Every number anywhere in `value` must be an integer: no JS floats. */
const expectNoFloats = (value: unknown, where: string): void => {
  if (typeof value === 'number') {
    expect(
      Number.isSafeInteger(value),
      `${where} is a float: ${value}`,
    ).to.equal(true);
  } else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      expectNoFloats(inner, `${where}.${key}`);
    }
  }
};

// --- what the fuzzer sends -------------------------------------------------

const segment = fc.oneof(
  fc.constantFrom(
    'api',
    'trading',
    'order',
    'orders',
    'positions',
    'trades',
    'events',
    'auth',
    'token',
    'refresh',
    'metrics',
    'health',
    '..',
    '.',
    '%',
    '%zz',
    '%00',
    '%ff',
    '%2e%2e',
    '%2F',
    'é',
    '😀',
    '<script>',
    '"',
    ' ',
    '__proto__',
    'x'.repeat(3000),
  ),
  fc.string({ maxLength: 12 }),
);

const route = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '/',
      '/api/health',
      '/api/metrics',
      '/api/trading/order',
      '/api/trading/orders',
      '/api/trading/positions',
      '/api/trading/trades',
      '/api/events',
      '/auth/token',
      '/auth/refresh',
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom('/api/trading/orders/', '/api/', '/auth/'),
        segment,
      )
      .map(([prefix, tail]) => prefix + tail),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(segment, { maxLength: 5 })
      .map((s) => '/' + s.join('/')),
  },
);

const queryPair = fc.tuple(
  fc.oneof(
    fc.constantFrom(
      'limit',
      'from',
      'symbol',
      'strategy',
      'token',
      'limit[]',
      'from[a]',
      '__proto__',
      'constructor[prototype][x]',
      'a[b][c][d][e][f][g]',
    ),
    fc.string({ maxLength: 8 }),
  ),
  fc.oneof(
    fc.constantFrom(
      '1',
      '0',
      '-1',
      '1001',
      '100',
      '1e3',
      'NaN',
      '%zz',
      '',
      'BTCUSDT',
    ),
    fc.string({ maxLength: 20 }),
  ),
);
// Raw on purpose some of the time: a client can send any bytes.
const query = fc.oneof(
  fc.constant(''),
  fc
    .tuple(fc.array(queryPair, { maxLength: 6 }), fc.boolean())
    .map(([pairs, raw]) => {
      const enc = raw ? (s: string) => s : encodeURIComponent;
      return '?' + pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
    }),
);

const numberish = fc.oneof(
  fc.constantFrom(0.001, 0.002, 0.01),
  fc.constantFrom(0, -1, 1e-12, 1e308, 2 ** 53 + 1, 0.1 + 0.2),
  fc.double(),
  fc.integer(),
  fc.constantFrom('0.001', '1e3', '0x10', '', ' 1', 'NaN', 'Infinity'),
  fc.string({ maxLength: 6 }),
  fc.constant(null),
  fc.constant([0.001]),
  fc.constant({ value: 1 }),
);

const orderLike = fc.record(
  {
    symbol: fc.oneof(
      {
        weight: 4,
        arbitrary: fc.constantFrom('BTCUSDT', 'ETHUSDT', 'ADAUSDT'),
      },
      {
        weight: 1,
        arbitrary: fc.oneof(
          fc.string(),
          fc.constantFrom('btcusdt', '', 'BTC/USDT'),
        ),
      },
    ),
    side: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('BUY', 'SELL') },
      { weight: 1, arbitrary: fc.oneof(fc.string(), fc.constant(1)) },
    ),
    type: fc.oneof(
      {
        weight: 4,
        arbitrary: fc.constantFrom(
          'MARKET',
          'LIMIT',
          'STOP_MARKET',
          'TAKE_PROFIT',
        ),
      },
      { weight: 1, arbitrary: fc.string() },
    ),
    quantity: numberish,
    price: numberish,
    stop_loss: numberish,
    take_profit: numberish,
    leverage: fc.oneof(fc.integer({ min: -2, max: 200 }), numberish),
    strategy: fc.oneof(fc.string(), fc.constant('x'.repeat(500))),
    extra: fc.jsonValue(),
  },
  { requiredKeys: ['symbol', 'side', 'type', 'quantity'] },
);

const validMarketOrder = fc.record({
  symbol: fc.constant('BTCUSDT'),
  side: fc.constantFrom('BUY', 'SELL'),
  type: fc.constant('MARKET'),
  quantity: fc.constantFrom(0.001, 0.002, 0.005),
});

const body = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: orderLike.map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: validMarketOrder.map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{"quantity": 1e400}',
      '{"__proto__": {"role": "admin"}, "symbol": "BTCUSDT"}',
      '{"constructor": {"prototype": {"polluted": true}}}',
      '{"username": "admin", "password": {"$ne": null}}',
      '{"refresh_token": []}',
      '['.repeat(5000) + ']'.repeat(5000),
      '{"a":' + '"x"'.padEnd(200_000, ' ') + '}',
      '{"symbol":"BTCUSDT"',
      '\u0000\u0001',
      'null',
      '"just a string"',
    ),
  },
);

const printable = fc
  .string({ maxLength: 30 })
  .map((s) => s.replace(/[^\x20-\x7e]/g, ''));

interface HeaderPicks {
  contentType: string | undefined;
  authorization: 'admin' | 'viewer' | 'none' | string;
  encoding: string | undefined;
  requestId: string | undefined;
  forwardedFor: string | undefined;
}

const headers = fc.record<HeaderPicks>({
  contentType: fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        undefined,
        'application/json; charset=utf-8',
        'application/json; charset=utf-16',
        'application/json; charset=latin1',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/jsonx',
        'APPLICATION/JSON',
      ),
    },
    { weight: 1, arbitrary: printable },
  ),
  authorization: fc.oneof(
    { weight: 6, arbitrary: fc.constant('admin') },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'viewer',
        'none',
        'Bearer',
        'Bearer a.b.c',
        'Basic YTpi',
        'bearer  ',
      ),
    },
    { weight: 1, arbitrary: printable },
  ),
  encoding: fc.oneof(
    { weight: 9, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'zip'),
    },
  ),
  requestId: fc.option(printable, { freq: 3 }).map((v) => v ?? undefined),
  forwardedFor: fc.option(printable, { freq: 3 }).map((v) => v ?? undefined),
});

const method = fc.constantFrom(
  'GET',
  'GET',
  'POST',
  'POST',
  'POST',
  'DELETE',
  'PUT',
  'PATCH',
  'HEAD',
  'OPTIONS',
);

// Half the requests are anything at all; half are orders, mostly
// plausible, so the fuzzer also drives fills into the store.
const anyRequest = fc.tuple(method, route, query, body, headers);
const orderRequest = fc.tuple(
  fc.constant('POST'),
  fc.constant('/api/trading/order'),
  query,
  fc.oneof(validMarketOrder, orderLike).map((o) => JSON.stringify(o)),
  headers,
);
const request = fc.oneof(anyRequest, orderRequest);

/**
 * Sends thousands of random and malformed requests to the real server and
 * checks that it stays up, answers each with a success or a documented
 * error (never a 500 or a stack trace), and that the store afterwards
 * holds only valid events that fold into the engine's state.
 */
describe('fuzzing the real server (e2e)', function () {
  this.timeout(90_000);
  let server: TestServer;
  let viewerToken: string;
  const statuses = new Map<number, number>();

  const dataDir = tempDataDir();

  before(async () => {
    server = await startTestServer({
      dataDir,
      // Robustness is the point here, not rate limits: raised so that
      // thousands of requests are judged by the routes, not answered 429.
      rateLimits: { public: 1e9, trading: 1e9, bulk: 1e9 },
      feed: {
        kind: 'file',
        files: [path.join(MARKET_DATA, 'BTC_USDT-1h.json')],
        speed: 'max',
        maxCandles: 100,
      },
    });
    await addUser(
      path.join(dataDir, 'users.json'),
      'fuzz-viewer',
      VIEWER_PASSWORD,
      'viewer',
    );
    const login = await fetch(`${server.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'fuzz-viewer',
        password: VIEWER_PASSWORD,
      }),
    });
    viewerToken = ((await login.json()) as { access_token: string })
      .access_token;
  });
  after(async () => server?.running.close());

  it(`answers ${RUNS} random requests with a success or a documented error`, async () => {
    const origin = new URL(server.url);
    await fc.assert(
      fc.asyncProperty(
        request,
        async ([verb, where, search, payload, picks]) => {
          const target = new URL(server.url + where + search);
          // Only ever this server, whatever the generated path looks like.
          expect(target.host).to.equal(origin.host);

          const sent: Record<string, string> = {};
          if (picks.contentType !== undefined)
            sent['content-type'] = picks.contentType;
          if (picks.authorization === 'admin')
            sent.authorization = `Bearer ${server.token}`;
          else if (picks.authorization === 'viewer')
            sent.authorization = `Bearer ${viewerToken}`;
          else if (picks.authorization !== 'none')
            sent.authorization = picks.authorization;
          if (picks.encoding !== undefined)
            sent['content-encoding'] = picks.encoding;
          if (picks.requestId !== undefined)
            sent['x-request-id'] = picks.requestId;
          if (picks.forwardedFor !== undefined)
            sent['x-forwarded-for'] = picks.forwardedFor;
          const withBody =
            verb !== 'GET' && verb !== 'HEAD' && payload !== undefined;

          const response = await fetch(target, {
            method: verb,
            headers: sent,
            body: withBody ? payload : undefined,
          });
          const text = await response.text();
          statuses.set(
            response.status,
            (statuses.get(response.status) ?? 0) + 1,
          );
          const context = `${verb} ${where}${search} → ${response.status} ${text.slice(0, 300)}`;

          expect(response.status, context).to.be.below(500);
          expect(text, context).not.to.match(/\n\s+at |\.ts:\d+|node_modules/);
          expect(response.headers.get('x-powered-by')).to.equal(null);
          if (verb === 'HEAD' || response.status === 204) return;
          if (response.status >= 400) {
            const parsed = JSON.parse(text);
            expect(Object.keys(parsed), context).to.deep.equal(['error']);
            expect(Object.keys(parsed.error), context).to.deep.equal(
              ERROR_KEYS,
            );
            const code = parsed.error.code as keyof typeof STATUS_BY_CODE;
            expect(STATUS_BY_CODE[code], context).to.equal(response.status);
            expect(parsed.error.message, context).to.be.a('string');
            expect(parsed.error.details, context).to.be.an('object');
            expect(parsed.error.timestamp, context).to.match(
              /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
            );
          } else if (
            response.headers.get('content-type')?.startsWith('application/json')
          ) {
            JSON.parse(text);
          }
        },
      ),
      { numRuns: RUNS, seed: 20250101, endOnFailure: true },
    );
    console.log(
      '      statuses:',
      JSON.stringify(Object.fromEntries([...statuses].sort())),
    );
    // The generators must reach the success paths too, not only errors.
    expect(statuses.get(200) ?? 0).to.be.greaterThan(200);
    expect(statuses.get(400) ?? 0).to.be.greaterThan(100);
  });

  it('still answers afterwards, with no prototype polluted', async () => {
    const res = await server.call('GET', '/api/health');
    expect(res.status).to.equal(200);
    expect(res.body.status).to.equal('healthy');
    const blank = {} as Record<string, unknown>;
    expect([blank.role, blank.polluted, blank.admin]).to.deep.equal([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('leaves only valid events in the store', async () => {
    const store = server.running.store;
    const all = await store.readAll();
    expect(all.length).to.be.greaterThan(100);
    let previous = 0n;
    for (const event of all) {
      expect(event.globalPosition > previous).to.equal(true);
      previous = event.globalPosition;
      expectNoFloats(event.data, `${event.type}@${event.globalPosition}`);
    }

    const stream = await store.readStream(accountStream('main'));
    const fills = stream.filter((e) => e.type === 'OrderFilled');
    expect(fills.length, 'the fuzzer filled orders').to.be.greaterThan(50);
    const placed = new Map<string, Decimal>();
    const filled = new Map<string, Decimal>();
    stream.forEach((event, index) => {
      const where = `${event.type}@${event.revision}`;
      expect(event.revision).to.equal(BigInt(index));
      expect(ACCOUNT_EVENT_TYPES as readonly string[], where).to.include(
        event.type,
      );
      const data = event.data as Record<string, any>;
      const amounts = AMOUNTS[event.type];
      for (const field of amounts.required) {
        expect(data[field], `${where}.${field}`)
          .to.be.a('string')
          .and.match(DECIMAL);
      }
      for (const field of amounts.nullable ?? []) {
        if (data[field] !== null) {
          expect(data[field], `${where}.${field}`)
            .to.be.a('string')
            .and.match(DECIMAL);
        }
      }
      if (event.type === 'OrderRejected') {
        expect(data.code, where).to.be.a('string');
        expect(data.quantity, where).to.be.a('string');
      }
      if (event.type === 'OrderPlaced') {
        expect(placed.has(data.orderId), `${where} placed twice`).to.equal(
          false,
        );
        expect(new Decimal(data.quantity).gt(0), where).to.equal(true);
        placed.set(data.orderId, new Decimal(data.quantity));
      }
      if (event.type === 'OrderFilled') {
        expect(
          placed.has(data.orderId),
          `${where} fills an unknown order`,
        ).to.equal(true);
        const total = (filled.get(data.orderId) ?? new Decimal(0)).add(
          data.quantity,
        );
        expect(
          total.lte(placed.get(data.orderId)!),
          `${where} overfills`,
        ).to.equal(true);
        filled.set(data.orderId, total);
        if (data.position) {
          for (const field of ['size', 'entryPrice', 'entryFees']) {
            expect(data.position[field], `${where}.position.${field}`).to.match(
              DECIMAL,
            );
          }
        }
      }
    });

    // Folding the stream gives exactly the state the engine serves from,
    // and after every event the totals kept beside the open orders are
    // what summing the open orders gives.
    let folded = initialAccountState();
    for (const e of stream) {
      folded = evolve(folded, {
        type: e.type,
        data: e.data,
      } as unknown as AccountEvent);
      expectTotalsMatchOrders(folded);
    }
    // The engine's own open orders, asked of its thread.
    const orderFacts = (orders: Iterable<OpenOrder>) =>
      [...orders]
        .map((o) => [
          o.orderId,
          o.filledQuantity.toFixed(),
          o.reservedMargin.toFixed(),
          o.price?.toFixed() ?? null,
        ])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(orderFacts(await server.running.engine.openOrders())).to.deep.equal(
      orderFacts(folded.openOrders.values()),
    );
    // Its positions and wallet, as the read models folded them apart.
    const account = await server.call('GET', '/api/trading/positions');
    expect(
      account.body.positions
        .map((p: { symbol: string; side: string; size: number }) => [
          p.symbol,
          p.side,
          String(p.size),
        ])
        .sort(),
    ).to.deep.equal(
      [...folded.positions.values()]
        .map((p) => [p.symbol, p.side, p.size.toFixed()])
        .sort(),
    );

    // The wallet is deposits plus every fill's cash change, to the digit.
    const expected = stream.reduce((sum, e) => {
      if (e.type === 'FundsDeposited') return sum.add(e.data.amount as string);
      if (e.type === 'OrderFilled') return sum.add(e.data.cashDelta as string);
      return sum;
    }, new Decimal(0));
    expect(folded.walletBalance.toFixed()).to.equal(expected.toFixed());
    for (const position of folded.positions.values()) {
      expect(position.size.gt(0)).to.equal(true);
    }
  });
});
