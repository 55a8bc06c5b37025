import { expect } from 'chai';
import express from 'express';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createExpressServer } from '../../api/expressServer';
import { startTestServer, tempDataDir } from '../support/testServer';

/** Prototypes of the next request and response, before the app runs. */
const prototypesOfNextRequest = (server: http.Server) =>
  new Promise<{ request: object; response: object }>((resolve) => {
    server.prependOnceListener('request', (req, res) =>
      resolve({
        request: Object.getPrototypeOf(req),
        response: Object.getPrototypeOf(res),
      }),
    );
  });

describe('createExpressServer', () => {
  const app = express();
  app.use(express.json());
  app.post('/echo', (req, res) => {
    res
      .status(201)
      .set('X-Seen', req.get('x-custom') ?? 'none')
      .json({ body: req.body, query: req.query, path: req.path });
  });
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.use(
    (
      error: Error,
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      res.status(500).json({ caught: error.message });
    },
  );

  let server: http.Server;
  let url: string;
  before(async () => {
    server = createExpressServer({ keepAliveTimeout: 1_000 }, app);
    await new Promise<void>((resolve) =>
      server.listen(0, '127.0.0.1', resolve),
    );
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it("creates requests and responses with the app's own prototypes", async () => {
    const seen = prototypesOfNextRequest(server);
    await fetch(`${url}/echo`, { method: 'POST' });
    const { request, response } = await seen;
    // express's own swap (Object.setPrototypeOf) then changes nothing.
    expect(request).to.equal(app.request);
    expect(response).to.equal(app.response);
  });

  it('keeps the server options it was given', () => {
    expect(server.keepAliveTimeout).to.equal(1_000);
  });

  it('serves express as usual: body, query, headers, status', async () => {
    const response = await fetch(`${url}/echo?side=BUY`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-custom': 'hi' },
      body: JSON.stringify({ quantity: '0.01' }),
    });
    expect(response.status).to.equal(201);
    expect(response.headers.get('x-seen')).to.equal('hi');
    expect(await response.json()).to.deep.equal({
      body: { quantity: '0.01' },
      query: { side: 'BUY' },
      path: '/echo',
    });
  });

  it("routes a thrown error to the app's error handler", async () => {
    const response = await fetch(`${url}/boom`);
    expect(response.status).to.equal(500);
    expect(await response.json()).to.deep.equal({ caught: 'boom' });
  });

  it('lets express answer 404 to a route it does not have', async () => {
    expect((await fetch(`${url}/nowhere`)).status).to.equal(404);
  });
});

describe('the Mirai server', () => {
  it('receives requests already shaped as express requests', async () => {
    const mirai = await startTestServer({ dataDir: tempDataDir() });
    try {
      const seen = prototypesOfNextRequest(mirai.running.server);
      const health = await fetch(`${mirai.url}/api/health`);
      expect(health.status).to.equal(200);
      const { request, response } = await seen;
      // Methods express adds: present before express's middleware ran.
      expect(request).to.have.property('get').that.is.a('function');
      expect(response).to.have.property('json').that.is.a('function');
    } finally {
      await mirai.running.close();
    }
  });
});
