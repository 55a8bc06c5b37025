import autocannon from 'autocannon';
import express, { Express } from 'express';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createExpressServer } from '../api/expressServer';

/** Concurrent connections of every HTTP load run. */
export const CONNECTIONS = 32;
/** Length of one HTTP load run, seconds. */
export const SECONDS = 3;

/**
 * A bare express server on 127.0.0.1 with the routes `setup` adds: the
 * baseline each Mirai figure is measured against in the same run. With
 * `bornWithPrototypes`, served as Mirai serves its app (see
 * `createExpressServer`), for comparison only.
 */
export const startBaseline = async (
  setup: (app: Express) => void,
  { bornWithPrototypes = false }: { bornWithPrototypes?: boolean } = {},
): Promise<{ url: string; close: () => void }> => {
  const app = express();
  setup(app);
  const server = bornWithPrototypes
    ? createExpressServer({}, app)
    : http.createServer(app);
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

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`). */
const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  } catch {
    return 100;
  }
})();

/**
 * CPU time (user + system) this process's main thread, the one serving
 * HTTP, has used so far, µs; undefined where /proc does not say (not
 * Linux). Less noisy than requests/s on a shared machine: it counts the
 * thread's work, not how often it got a core.
 */
export const mainThreadCpuMicros = (): number | undefined => {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command name: utime and stime are the 12th and
    // 13th (proc(5) numbers them 14 and 15).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1e6) / clockTicks : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Like {@link requestsPerSecond}, with the main thread's CPU time per
 * answered request, µs (undefined off Linux).
 */
export const measureLoad = async (
  url: string,
  request: { method?: 'GET' | 'POST'; body?: string; token?: string } = {},
): Promise<{ perSecond: number; cpuMicrosPerRequest?: number }> => {
  const before = mainThreadCpuMicros();
  const perSecond = await requestsPerSecond(url, request);
  const after = mainThreadCpuMicros();
  const cpuMicrosPerRequest =
    before === undefined || after === undefined
      ? undefined
      : (after - before) / (perSecond * SECONDS);
  return { perSecond, cpuMicrosPerRequest };
};
