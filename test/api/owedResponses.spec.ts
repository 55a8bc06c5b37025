import { expect } from 'chai';
import express from 'express';
import type http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createExpressServer } from '../../api/expressServer';
import { OwedResponses } from '../../api/owedResponses';

describe('OwedResponses', () => {
  let server: http.Server;
  let owed: OwedResponses;
  let port: number;

  beforeEach(async () => {
    const app = express();
    // Answers a little later, as an order waits for its commit.
    app.get('/slow', (_req, res) => {
      setTimeout(() => res.json({ ok: true }), 20);
    });
    owed = new OwedResponses();
    server = createExpressServer({}, app, owed.admitting(app));
    owed.watch(server);
    await new Promise<void>((resolve) =>
      server.listen(0, '127.0.0.1', resolve),
    );
    port = (server.address() as AddressInfo).port;
  });
  afterEach(() => {
    server.closeAllConnections();
    server.close();
  });

  it('forgets the answers of a connection the client reset', async () => {
    for (let round = 0; round < 5; round++) {
      const socket = net.connect(port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(20));
      await new Promise((resolve) => setTimeout(resolve, 5));
      socket.resetAndDestroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Queued answers of a dead connection never emit `close` themselves.
    expect(owed.size).to.equal(0);
  });

  it('counts nothing owed once pipelined answers are all sent', async () => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.write(
      'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(4) +
        'GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    await new Promise((resolve) => socket.on('close', resolve));
    expect(text.match(/HTTP\/1\.1 200 /g)).to.have.length(5);
    expect(owed.size).to.equal(0);
  });
});
