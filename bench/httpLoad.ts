import autocannon from 'autocannon';
import express, { Express } from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Concurrent connections of every HTTP load run. */
export const CONNECTIONS = 32;
/** Length of one HTTP load run, seconds. */
export const SECONDS = 3;

/**
 * A bare express server on 127.0.0.1 with the routes `setup` adds: the
 * baseline each Mirai figure is measured against in the same run.
 */
export const startBaseline = async (
  setup: (app: Express) => void,
): Promise<{ url: string; close: () => void }> => {
  const app = express();
  setup(app);
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
};

/**
 * Requests per second that `url` answers with 2xx under load. The load
 * generator (autocannon) runs on its own thread, not the server's.
 * Throws if any request failed, so a figure never counts errors.
 */
export const requestsPerSecond = async (
  url: string,
  request: { method?: 'GET' | 'POST'; body?: string; token?: string } = {},
): Promise<number> => {
  const result = await autocannon({
    url,
    method: request.method ?? 'GET',
    connections: CONNECTIONS,
    duration: SECONDS,
    workers: 1,
    body: request.body,
    headers: {
      'content-type': 'application/json',
      ...(request.token ? { authorization: `Bearer ${request.token}` } : {}),
    },
  });
  if (result.non2xx > 0) {
    throw new Error(`${result.non2xx} requests failed against ${url}`);
  }
  return result.requests.average;
};
