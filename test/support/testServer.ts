import path from 'node:path';
import { silentLogger } from '../../infrastructure/logging/logger';
import { MiraiSettings, RunningMirai, startMirai } from '../../server';
import { tempDir } from './tempDirs';

/** The real market data the team keeps beside the repository. */
export const MARKET_DATA = path.resolve(
  __dirname,
  '../../../shared/data/market',
);
export const ADMIN_PASSWORD = 'test-admin-password';

export const tempDataDir = (): string => tempDir('test');

export interface TestServer {
  running: RunningMirai;
  url: string;
  /** Admin access token. */
  token: string;
  /** fetch against the server with the admin token and JSON body. */
  call(
    method: string,
    route: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers }>;
}

/**
 * Starts a real Mirai server on 127.0.0.1 (random port) with no logging
 * and an admin whose password the test knows; waits until its file feed
 * (if any) has replayed everything it was asked to. A simulated feed
 * keeps running.
 */
export const startTestServer = async (
  settings: Partial<MiraiSettings>,
): Promise<TestServer> => {
  const running = await startMirai({
    port: 0,
    host: '127.0.0.1',
    feed: { kind: 'none' },
    logger: silentLogger,
    ...settings,
    env: { MIRAI_ADMIN_PASSWORD: ADMIN_PASSWORD, ...settings.env },
  });
  // A file feed ends; a simulated one runs until the server stops.
  if (settings.feed?.kind === 'file') await running.feed?.done;
  const url = running.url;

  const login = await fetch(`${url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  const { access_token: token } = (await login.json()) as {
    access_token: string;
  };

  const call: TestServer['call'] = async (
    method,
    route,
    body,
    headers = {},
  ) => {
    const response = await fetch(`${url}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body:
        body === undefined
          ? undefined
          : typeof body === 'string'
            ? body
            : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: metrics text, say
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };
  return { running, url, token, call };
};
