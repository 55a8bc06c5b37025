import express from 'express';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../infrastructure/logging/logger';
import { MiraiSettings, startMirai } from '../server';
import { CONNECTIONS, measureLoad, SECONDS, startBaseline } from './httpLoad';
import { median, round } from './stats';

const MARKET_DATA = path.resolve(__dirname, '../../shared/data/market');
const RUNS = 3;

const ORDER = JSON.stringify({
  symbol: 'BTCUSDT',
  side: 'BUY',
  type: 'MARKET',
  quantity: 0.001,
});

/**
 * The baseline: express parsing the same body and answering in kind.
 * `bornWithPrototypes`: see {@link startBaseline}.
 */
export const startOrderBaseline = (
  options: { bornWithPrototypes?: boolean } = {},
) =>
  startBaseline((app) => {
    app.use(express.json({ limit: '100kb' }));
    let id = 0;
    app.post('/api/trading/order', (req, res) => {
      res.json({
        order_id: String(++id),
        status: 'FILLED',
        symbol: req.body.symbol,
        side: req.body.side,
        executed_price: 58450,
        executed_quantity: req.body.quantity,
        timestamp: new Date().toISOString(),
      });
    });
  }, options);

/** One load run of MARKET orders against `url`. */
export const hammer = (url: string, token: string) =>
  measureLoad(`${url}/api/trading/order`, {
    method: 'POST',
    body: ORDER,
    token,
  });

/**
 * MARKET orders per second through the real server (SQLite store, JWT,
 * rate limiter raised out of the way, every order decided, filled and
 * durably appended) next to a bare express handler measured in the same
 * run, alternating so machine noise hits both alike. The target is set
 * against plain express; the same handler served the way Mirai serves
 * its app (requests born with express's prototypes) is measured too, so
 * the figures show how much of the gap that alone closes.
 */
export const runHttpBench = async (): Promise<object[]> => {
  const tuned = await startOrderBaseline({ bornWithPrototypes: true });
  const servers = {
    full: await startBenchServer({ durability: 'full' }),
    normal: await startBenchServer({ durability: 'normal' }),
    full_engine_inline: await startBenchServer({
      durability: 'full',
      engine: 'inline',
    }),
    // Ignores the token it is sent.
    born_with_prototypes: {
      url: tuned.url,
      token: '',
      close: async () => tuned.close(),
    },
  };
  const baseline = await startOrderBaseline();

  type Name = 'baseline' | keyof typeof servers;
  const { perSecond: results, cpu } = await loadInTurns(
    baseline,
    servers,
    RUNS,
  );
  // The HTTP thread's CPU per request, µs: steadier than requests/s.
  const cpuFigures = (name: Name) =>
    cpu[name] === undefined
      ? {}
      : {
          main_thread_cpu_us_per_request: round(median(cpu[name])),
          ...(name !== 'baseline' && {
            cpu_ratio_to_baseline: round(
              median(cpu[name]) / median(cpu.baseline),
            ),
          }),
        };
  const common = {
    connections: CONNECTIONS,
    seconds: SECONDS,
    // Server, load generator and the server's threads share these.
    cores: os.availableParallelism(),
  };

  const base = median(results.baseline);
  const tunedBase = median(results.born_with_prototypes);
  const note =
    'rate limits raised to 1e9/min for the bench; spec defaults 100/50/10; ' +
    'engine (but for full_engine_inline) and projections on threads of their own';
  const ours = (name: Exclude<Name, 'baseline' | 'born_with_prototypes'>) => ({
    bench: `http_orders_mirai_sqlite_${name}`,
    unit: 'orders/s',
    median: round(median(results[name])),
    runs: results[name].map(round),
    ratio_to_baseline: round(median(results[name]) / base),
    target_ratio: 0.6,
    ratio_to_born_with_prototypes_baseline: round(
      median(results[name]) / tunedBase,
    ),
    ...common,
    ...cpuFigures(name),
    note,
  });
  return [
    {
      bench: 'http_orders_express_baseline',
      unit: 'requests/s',
      median: round(base),
      runs: results.baseline.map(round),
      ...common,
      ...cpuFigures('baseline'),
    },
    {
      bench: 'http_orders_express_baseline_born_with_prototypes',
      unit: 'requests/s',
      median: round(tunedBase),
      runs: results.born_with_prototypes.map(round),
      ratio_to_baseline: round(tunedBase / base),
      ...common,
      ...cpuFigures('born_with_prototypes'),
      note: 'the baseline served by createExpressServer, as Mirai is; for comparison',
    },
    ours('full'),
    ours('normal'),
    ours('full_engine_inline'),
  ];
};

/** A server started by {@link startBenchServer}. */
export type BenchServer = Awaited<ReturnType<typeof startBenchServer>>;

/** What {@link loadInTurns} measured, by server name and `baseline`. */
export interface LoadsInTurn {
  /** Orders (requests) per second of each run. */
  perSecond: Record<string, number[]>;
  /** The HTTP thread's CPU per order, µs, of each run; Linux only. */
  cpu: Record<string, number[]>;
}

/**
 * Warms each server up, then `runs` times loads the baseline and each
 * server in turn, so machine noise hits them alike; with `alternate`, the
 * servers go in reverse order every other run. Closes them all at the end.
 */
export const loadInTurns = async (
  baseline: { url: string; close: () => void },
  servers: Record<string, BenchServer>,
  runs: number,
  { alternate = false }: { alternate?: boolean } = {},
): Promise<LoadsInTurn> => {
  const measured: LoadsInTurn = { perSecond: {}, cpu: {} };
  const record = (name: string, load: Awaited<ReturnType<typeof hammer>>) => {
    (measured.perSecond[name] ??= []).push(load.perSecond);
    if (load.cpuMicrosPerRequest !== undefined) {
      (measured.cpu[name] ??= []).push(load.cpuMicrosPerRequest);
    }
  };
  const names = Object.keys(servers);
  const token = servers[names[0]].token;
  // Warm-up: JIT and SQLite pages.
  for (const server of Object.values(servers)) {
    await hammer(server.url, server.token);
  }
  for (let run = 0; run < runs; run++) {
    record('baseline', await hammer(baseline.url, token));
    const order = alternate && run % 2 === 1 ? [...names].reverse() : names;
    for (const name of order) {
      record(name, await hammer(servers[name].url, servers[name].token));
    }
  }
  baseline.close();
  for (const server of Object.values(servers)) await server.close();
  return measured;
};

/** `startMirai` of this checkout, or of another one (see abOrders.ts). */
export type StartMirai = typeof startMirai;

/**
 * A Mirai server for order benches: SQLite in a fresh folder, 50 real
 * BTCUSDT candles replayed, rate limits out of the way; with an admin
 * token.
 */
export const startBenchServer = async (
  where: Pick<Partial<MiraiSettings>, 'durability' | 'engine'>,
  start: StartMirai = startMirai,
) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mirai-bench-'));
  const running = await start({
    ...where,
    port: 0,
    dataDir,
    logger: silentLogger,
    initialBalance: '1000000000',
    rateLimits: { public: 1e9, trading: 1e9, bulk: 1e9 },
    feed: {
      kind: 'file',
      files: [path.join(MARKET_DATA, 'BTC_USDT-1h.json')],
      speed: 'max',
      maxCandles: 50,
    },
    env: { MIRAI_ADMIN_PASSWORD: 'bench-password' },
  });
  await running.feed?.done;
  const login = await fetch(`${running.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'bench-password' }),
  });
  const { access_token: token } = (await login.json()) as {
    access_token: string;
  };
  return {
    url: running.url,
    token,
    /** Stops the server and deletes its data (about 50 MB a run). */
    close: async () => {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
};
