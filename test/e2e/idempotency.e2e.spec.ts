import { expect } from 'chai';
import path from 'node:path';
import { addUser } from '../../infrastructure/auth';
import { hourCandle } from '../support/candles';
import {
  startTestServer,
  tempDataDir,
  TestServer,
} from '../support/testServer';

// A client that lost the answer to an order (a timeout, a dropped
// connection) must be able to send it again without buying twice.
describe('idempotency keys on orders (e2e)', () => {
  const dataDir = tempDataDir();
  let server: TestServer;

  const start = async () => {
    server = await startTestServer({
      dataDir,
      store: 'sqlite',
      slippageRate: '0',
      initialBalance: '100000',
    });
    await server.running.engine.ingestCandle(
      hourCandle(0, 30000, 30100, 29900, 30000),
    );
  };
  before(start);
  after(async () => server?.running.close());

  const buy = {
    symbol: 'BTCUSDT',
    side: 'BUY',
    type: 'MARKET',
    quantity: 0.01,
  };
  const order = (key: string, body: object = buy, token?: string) =>
    fetch(`${server.url}/api/trading/order`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token ?? server.token}`,
        'content-type': 'application/json',
        'idempotency-key': key,
      },
      body: JSON.stringify(body),
    });
  const json = async (res: Response): Promise<any> => res.json();
  const placedWith = async (key: string) =>
    (await server.running.store.readAll()).filter(
      (e) =>
        e.metadata.idempotencyKey === key &&
        (e.type === 'OrderPlaced' || e.type === 'OrderRejected'),
    );

  it('answers a repeat with the first answer and places nothing more', async () => {
    const first = await order('key-1');
    const again = await order('key-1');
    expect(first.status).to.equal(200);
    expect(again.status).to.equal(200);
    expect(first.headers.get('idempotent-replayed')).to.equal(null);
    expect(again.headers.get('idempotent-replayed')).to.equal('true');
    expect(await json(again)).to.deep.equal(await json(first));
    expect(again.headers.get('x-mirai-position')).to.equal(
      first.headers.get('x-mirai-position'),
    );
    expect(await placedWith('key-1')).to.have.length(1);
  });

  it('places one order for many copies sent at once', async () => {
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => order('key-burst')),
    );
    const ids = new Set(
      await Promise.all(answers.map(async (a) => (await json(a)).order_id)),
    );
    expect(ids.size).to.equal(1);
    expect(await placedWith('key-burst')).to.have.length(1);
  });

  it('refuses the key with a different order, 409 CONFLICT, storing nothing', async () => {
    await order('key-2');
    const other = await order('key-2', { ...buy, quantity: 0.02 });
    expect(other.status).to.equal(409);
    expect((await json(other)).error.code).to.equal('CONFLICT');
    expect(await placedWith('key-2')).to.have.length(1);
  });

  it('replays a rejection as the same error', async () => {
    const tooBig = { ...buy, quantity: 100 };
    const first = await order('key-3', tooBig);
    const again = await order('key-3', tooBig);
    expect(first.status).to.equal(400);
    const [a, b] = [await json(first), await json(again)];
    expect(b.error.code).to.equal('INSUFFICIENT_BALANCE');
    expect(b.error.details.order_id).to.equal(a.error.details.order_id);
    expect(await placedWith('key-3')).to.have.length(1);
  });

  it('keeps keys apart per user', async () => {
    await addUser(
      path.join(dataDir, 'users.json'),
      'tina',
      'tina-password-1',
      'trader',
    );
    const login = await fetch(`${server.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'tina', password: 'tina-password-1' }),
    });
    const { access_token: tina } = (await json(login)) as {
      access_token: string;
    };
    const mine = await json(await order('shared-key'));
    const hers = await json(await order('shared-key', buy, tina));
    expect(hers.order_id).not.to.equal(mine.order_id);
    expect(await placedWith('shared-key')).to.have.length(2);
  });

  it('refuses a malformed key with 400', async () => {
    for (const key of ['', 'x'.repeat(129), 'with space']) {
      const res = await order(key);
      expect(res.status, JSON.stringify(key)).to.equal(400);
      expect((await json(res)).error.code).to.equal('INVALID_REQUEST');
    }
  });

  it('still answers a repeat with the first answer after a restart', async () => {
    const first = await json(await order('key-restart'));
    await server.running.close();
    await start();
    const again = await order('key-restart');
    expect(again.headers.get('idempotent-replayed')).to.equal('true');
    expect(await json(again)).to.deep.equal(first);
    expect(await placedWith('key-restart')).to.have.length(1);
    const changed = await order('key-restart', { ...buy, side: 'SELL' });
    expect(changed.status).to.equal(409);
  });
});
