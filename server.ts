import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import http from 'node:http';
import { createApp } from './api/app';
import { createExpressServer } from './api/expressServer';
import { OwedResponses } from './api/owedResponses';
import { userFromRequest } from './api/auth';
import { QueryCache } from './api/queryCache';
import { createRateLimiter, RateLimitTier } from './api/rateLimit';
import type { Engine } from './application/engine';
import type { EventStore } from './application/eventStore';
import type { Logger as LoggerPort } from './application/logger';
import {
  engineConfigFrom,
  type EngineSettings,
  TradingEngine,
} from './application/tradingEngine';
import type { Candle } from './domain/market/candle';
import { MiraiError } from './domain/errors';
import {
  createTokenService,
  ensureInitialAdmin,
  loadSigningSecret,
} from './infrastructure/auth';
import {
  openEventStore,
  EventStoreConfig,
  SqliteEventStore,
} from './infrastructure/eventStore';
import { createLogger, Logger } from './infrastructure/logging/logger';
import {
  CandleFileSource,
  DEFAULT_START_PRICES,
  FileFeed,
  FileFeedResult,
  MarketFeed,
  SimulatedFeed,
} from './infrastructure/marketData';
import { lockDataDir } from './infrastructure/dataDirLock';
import {
  createMetrics,
  MiraiMetrics,
  timeAppends,
} from './infrastructure/metrics';
import { EngineThread } from './infrastructure/threads/engineThread';
import {
  AlertRules,
  createProjections,
  openReadModelDb,
  ProjectionRuntime,
  ProjectionWorker,
  ReadModelDb,
  ReadModelQueries,
  ReadModelRuntime,
  replayFromZero,
  ReplayResult,
} from './projections';

/** Where candles come from. */
export type FeedSettings =
  | { kind: 'simulated'; seed: number; emitEveryMs: number; interval: string }
  | {
      kind: 'file';
      files: Array<string | CandleFileSource>;
      speed: 'max' | number;
      maxCandles?: number;
    }
  | { kind: 'none' };

/** Every setting of a Mirai server; see `defaultSettings` for defaults. */
export interface MiraiSettings extends EngineSettings {
  port: number;
  host: string;
  /** Folder for the SQLite store, users file and signing secret. */
  dataDir: string;
  store: EventStoreConfig['kind'];
  eventStoreConnectionString?: string;
  /** SQLite fsync policy; default `full`. */
  durability: 'full' | 'normal';
  /** Where SQLite commits run; default `inline`. */
  writer: 'inline' | 'thread';
  /**
   * Where the trading engine runs: `thread` (default), a thread of its
   * own with its own connection to the events file, or `inline`, the
   * HTTP thread. Only the SQLite store can be shared with a thread; the
   * others always run it inline.
   */
  engine: 'inline' | 'thread';
  feed: FeedSettings;
  readsRequireToken: boolean;
  rateLimits: Partial<Record<RateLimitTier, number>>;
  trustProxy: boolean | number;
  corsOrigins: string[];
  bodyLimit: string;
  /** Where MIRAI_ADMIN_PASSWORD and MIRAI_JWT_SECRET are read. */
  env: NodeJS.ProcessEnv;
  /** Thresholds of the alerts process manager; see `defaultAlertRules`. */
  alertRules?: Partial<AlertRules>;
  /** Longest wait of a read for `wait_for_position`, ms. Default 5,000. */
  maxReadWaitMs?: number;
  /**
   * How long a graceful stop waits for open requests before it cuts
   * their connections, ms. Default 10,000.
   */
  shutdownGraceMs?: number;
  /** Clock of rate limits and tokens, ms; injectable for tests. */
  now?: () => number;
  logger?: Logger;
}

export const defaultSettings = (): MiraiSettings => ({
  port: 8001,
  host: '127.0.0.1',
  dataDir: './data',
  store: 'sqlite',
  durability: 'full',
  writer: 'inline',
  engine: 'thread',
  feed: { kind: 'simulated', seed: 42, emitEveryMs: 1000, interval: '1m' },
  initialBalance: '10000',
  slippageRate: '0.0005',
  takerFeeRate: '0.001',
  makerFeeRate: '0.001',
  defaultLeverage: 1,
  maxPriceAgeMs: 2 * 3_600_000,
  readsRequireToken: false,
  rateLimits: {},
  trustProxy: false,
  corsOrigins: [],
  bodyLimit: '100kb',
  env: process.env,
});

export interface RunningMirai {
  url: string;
  port: number;
  /** The HTTP server, for what else should listen on its port. */
  server: http.Server;
  engine: Engine;
  store: EventStore;
  feed: MarketFeed | null;
  /** The projections behind every GET, and the queries over them. */
  projections: ReadModelRuntime;
  queries: ReadModelQueries;
  /** Set on the first start of a store without users; print it once. */
  initialAdminPassword?: string;
  /**
   * Graceful stop: no new connections, in-flight requests finish, the
   * feed stops, pending appends land, the store closes.
   */
  close(): Promise<void>;
}

const buildFeed = (
  settings: FeedSettings,
  lastCandles: Candle[],
  logger: Logger,
): MarketFeed | null => {
  // Resume after the newest candle already in the store.
  const lastOpenTimes: Record<string, number> = {};
  for (const candle of lastCandles) {
    lastOpenTimes[candle.symbol] = candle.openTime;
  }
  switch (settings.kind) {
    case 'none':
      return null;
    case 'simulated': {
      // Carry on from the last stored closes, not from the seed's start
      // prices: a restart must not make the market jump.
      const startPrices: Record<string, string> = { ...DEFAULT_START_PRICES };
      for (const candle of lastCandles) {
        startPrices[candle.symbol] = candle.close.toString();
      }
      return new SimulatedFeed({
        startPrices,
        seed: settings.seed,
        emitEveryMs: settings.emitEveryMs,
        interval: settings.interval,
        resumeAfter: lastOpenTimes,
        logger,
      });
    }
    case 'file':
      return new FileFeed({
        files: settings.files,
        speed: settings.speed,
        maxCandles: settings.maxCandles,
        skipThrough: lastOpenTimes,
        logger,
      });
  }
};

/**
 * Starts what keeps the read models live. On the SQLite store that is a
 * worker thread with connections of its own, so folding never delays an
 * HTTP answer; the memory and EventStoreDB stores cannot be shared with a
 * thread that way and fold in this one. Returns the runtime and the
 * connection queries read the read models through.
 */
const startProjections = async (
  store: EventStore,
  settings: MiraiSettings,
  accountId: string,
  logger: Logger,
): Promise<{ projections: ReadModelRuntime; readModelDb: ReadModelDb }> => {
  const options = { accountId, alertRules: settings.alertRules };
  if (store instanceof SqliteEventStore) {
    const readModelsPath = path.join(settings.dataDir, 'readmodels.db');
    const projections = await ProjectionWorker.start({
      eventsPath: path.join(settings.dataDir, 'events.db'),
      readModelsPath,
      durability: settings.durability,
      projections: options,
      commits: store.commits,
      log: logger,
    });
    return { projections, readModelDb: openReadModelDb(readModelsPath) };
  }
  // Read models sit beside the events, or in memory with them.
  const readModelDb = openReadModelDb(
    settings.store === 'memory'
      ? ':memory:'
      : path.join(settings.dataDir, 'readmodels.db'),
  );
  const projections = new ProjectionRuntime({
    store,
    db: readModelDb,
    projections: createProjections(store, options),
    log: logger,
  });
  await projections.start();
  return { projections, readModelDb };
};

/** How long a feed waits for an engine thread to come back, ms. */
const FEED_PATIENCE_MS = 10_000;

/**
 * Hands a candle to the engine, waiting out an engine thread's restart
 * (commands meanwhile answer SYSTEM_MAINTENANCE) rather than ending the
 * feed; an engine gone for longer than {@link FEED_PATIENCE_MS} ends it.
 */
const ingestPatiently = async (engine: Engine, candle: Candle) => {
  const deadline = Date.now() + FEED_PATIENCE_MS;
  for (;;) {
    try {
      await engine.ingestCandle(candle);
      return;
    } catch (error) {
      const restarting =
        error instanceof MiraiError && error.code === 'SYSTEM_MAINTENANCE';
      if (!restarting || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
};

/** The engine on the HTTP thread, over `store`. */
const startInlineEngine = async (
  store: EventStore,
  settings: MiraiSettings,
  metrics: MiraiMetrics,
  logger: LoggerPort,
): Promise<Engine> => {
  const engine = new TradingEngine(
    timeAppends(store, metrics.eventStoreAppendDuration),
    logger,
    engineConfigFrom(settings),
  );
  await engine.start();
  return engine;
};

/**
 * The engine on a thread of its own, writing through its own connection
 * to the events file `store` reads: its commits move `store`'s known head
 * and wake the projections as `store`'s own would.
 */
const startEngineThread = (
  store: SqliteEventStore,
  settings: MiraiSettings,
  metrics: MiraiMetrics,
  logger: LoggerPort,
): Promise<Engine> =>
  EngineThread.start({
    settings: {
      eventsPath: path.join(settings.dataDir, 'events.db'),
      durability: settings.durability,
      writer: settings.writer,
      initialBalance: settings.initialBalance,
      slippageRate: settings.slippageRate,
      takerFeeRate: settings.takerFeeRate,
      makerFeeRate: settings.makerFeeRate,
      defaultLeverage: settings.defaultLeverage,
      maxPriceAgeMs: settings.maxPriceAgeMs,
    },
    log: logger,
    onCommitted: (head) => store.committedElsewhere(head),
    onAppendSeconds: (seconds) =>
      metrics.eventStoreAppendDuration.observe(seconds),
  });

/** The composition root: opens the store, wires everything, listens. */
export const startMirai = async (
  overrides: Partial<MiraiSettings> = {},
): Promise<RunningMirai> => {
  const settings = { ...defaultSettings(), ...overrides };
  mkdirSync(settings.dataDir, { recursive: true });
  // One engine per data folder: see lockDataDir. In memory, nothing is
  // shared with another process.
  const lock =
    settings.store === 'sqlite' ? lockDataDir(settings.dataDir) : null;
  try {
    const running = await serve(settings);
    let closed: Promise<void> | null = null;
    return {
      ...running,
      close: () => (closed ??= running.close().finally(() => lock?.release())),
    };
  } catch (error) {
    lock?.release();
    throw error;
  }
};

const serve = async (settings: MiraiSettings): Promise<RunningMirai> => {
  const logger = settings.logger ?? createLogger('mirai');
  const now = settings.now ?? Date.now;

  const engineOnThread =
    settings.engine === 'thread' && settings.store === 'sqlite';
  const store = await openEventStore({
    kind: settings.store,
    path: path.join(settings.dataDir, 'events.db'),
    connectionString: settings.eventStoreConnectionString,
    durability: settings.durability,
    // With the engine on its thread, this connection only reads.
    writer: engineOnThread ? 'inline' : settings.writer,
  });
  if (settings.engine === 'thread' && !engineOnThread) {
    logger.info(
      'the engine runs on the HTTP thread: only the SQLite store ' +
        'can be shared with a thread of its own',
      { store: settings.store },
    );
  }
  const metrics = createMetrics();
  const engine = engineOnThread
    ? await startEngineThread(
        store as SqliteEventStore,
        settings,
        metrics,
        logger,
      )
    : await startInlineEngine(store, settings, metrics, logger);

  const accountId = engine.accountId;
  const { projections, readModelDb } = await startProjections(
    store,
    settings,
    accountId,
    logger,
  );
  const queryCache = new QueryCache();
  projections.changes.subscribe((change) =>
    queryCache.projectionChanged(change.projection),
  );
  const queries = new ReadModelQueries(readModelDb, accountId);
  void store
    .headPosition()
    .then(async (head) => {
      if (await projections.waitFor(head, 10 * 60_000)) {
        logger.info('projections caught up', { position: head });
      }
    })
    .catch(() => undefined);

  metrics.measureProjectionLag(async () => {
    const head = await store.headPosition();
    return projections.statuses().map((status) => ({
      projection: status.name,
      lag: Math.max(0, Number(head - status.checkpoint)),
    }));
  });
  engine.activity.subscribe(({ symbol, side, status, realizedPnl }) => {
    metrics.recordOrder({ symbol, side, status });
    if (realizedPnl !== null) metrics.recordRealizedPnl(symbol, realizedPnl);
  });

  const usersFile = path.join(settings.dataDir, 'users.json');
  const admin = await ensureInitialAdmin({
    file: usersFile,
    env: settings.env,
    log: (m, f) => logger.info(m, f),
  });
  const secret = await loadSigningSecret({
    file: path.join(settings.dataDir, 'jwt-secret'),
    env: settings.env,
    log: (m, f) => logger.info(m, f),
  });
  const tokens = createTokenService({
    secret,
    now: () => Math.floor(now() / 1000),
  });
  // An unset tier keeps the spec's limit rather than becoming undefined.
  const limits = Object.fromEntries(
    Object.entries(settings.rateLimits).filter(([, n]) => n !== undefined),
  );
  const rateLimiter = createRateLimiter({
    limits,
    now,
    trustProxy: settings.trustProxy,
    // The limiter runs before authentication; count signed-in users by name.
    identify: (req) => userFromRequest(tokens, req)?.username,
  });

  const app = createApp({
    engine,
    store,
    logger,
    metrics,
    tokens,
    usersFile,
    rateLimiter,
    readSide: {
      store,
      runtime: projections,
      queries,
      cache: queryCache,
      maxWaitMs: settings.maxReadWaitMs,
      // Every write made through this server goes through `store`, or
      // through the engine thread, which tells `store` of its commits.
      knownHead:
        store instanceof SqliteEventStore
          ? () => store.knownHeadPosition()
          : undefined,
    },
    readsRequireToken: settings.readsRequireToken,
    bodyLimit: settings.bodyLimit,
    corsOrigins: settings.corsOrigins,
  });
  // Every request the app is given gets its answer before its
  // connection closes, whatever closes it.
  const owed = new OwedResponses();
  const server = createExpressServer(
    {
      noDelay: true,
      // A request must arrive whole within 30 s (Node allows 5 minutes),
      // so slow clients cannot hold connections open at no cost.
      requestTimeout: 30_000,
      headersTimeout: 20_000,
      // Node checks those timeouts this often (30 s by default, which
      // let a dribbled body run for 52 s).
      connectionsCheckingInterval: 1_000,
      // Node answers an HTTP/1.1 request without Host with a bare 400
      // and closes, dropping the answers to requests pipelined behind
      // it; Mirai serves no virtual hosts, so it serves such requests.
      requireHostHeader: false,
    },
    app,
    owed.admitting(app),
  );
  owed.watch(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${settings.host}:${port}`;

  const feed = buildFeed(settings.feed, await engine.lastCandles(), logger);
  feed?.start((candle) => ingestPatiently(engine, candle));
  feed?.done.then(
    (result) => {
      logger.info('feed ended', { ...result });
      const skipped = (result as Partial<FileFeedResult>).skipped ?? 0;
      if (result.emitted === 0 && skipped > 0) {
        logger.warn(
          'the file feed added no candle: the store already holds these ' +
            'or newer ones; use a fresh --data-dir to replay the file',
          { dataDir: settings.dataDir, skipped },
        );
      }
    },
    (error: unknown) => logger.error('feed failed', { error }),
  );

  logger.info('server started', {
    url,
    store: settings.store,
    dataDir: settings.dataDir,
    feed: settings.feed.kind,
    engine: engineOnThread ? 'thread' : 'inline',
    // How the SQLite store commits, wherever the engine writes from.
    ...(settings.store === 'sqlite' && {
      durability: settings.durability,
      writer: settings.writer,
    }),
    mode: 'simulation',
  });

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await feed?.stop();
      // A keep-alive connection left open would hold the stop until its
      // client dropped it: each ends after the answers it owes.
      owed.closeAll();
      // A client that never finishes its request must not hold the stop:
      // after the grace period its connection is cut.
      const graceMs = settings.shutdownGraceMs ?? 10_000;
      await new Promise<void>((resolve) => {
        const cut = setTimeout(() => {
          logger.warn('cutting connections still open after the grace period', {
            graceMs,
            unanswered: owed.size,
          });
          server.closeAllConnections();
        }, graceMs);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      });
      await engine.stop();
      await projections.stop();
      await store.close();
      readModelDb.close();
      logger.info('server stopped', { url });
    })());

  return {
    url,
    port,
    server,
    engine,
    store,
    feed,
    projections,
    queries,
    initialAdminPassword: admin.generatedPassword,
    close,
  };
};

/**
 * Drops the read models in `<dataDir>/readmodels.db` (all of them, or the
 * one named) and folds them again from position 1 of the event store.
 * Meant for a stopped server: a running one keeps folding into the same
 * file. Throws for an unknown projection name.
 */
export const rebuildReadModels = async (options: {
  dataDir: string;
  name?: string;
  store?: EventStoreConfig['kind'];
  eventStoreConnectionString?: string;
  logger?: Logger;
}): Promise<ReplayResult & { projections: string[]; seconds: number }> => {
  const logger = options.logger ?? createLogger('mirai');
  const kind = options.store ?? 'sqlite';
  // A running server folds into the same file: refuse while one does.
  const lock = kind === 'sqlite' ? lockDataDir(options.dataDir) : null;
  try {
    return await rebuildUnlocked(options, kind, logger);
  } finally {
    lock?.release();
  }
};

const rebuildUnlocked = async (
  options: {
    dataDir: string;
    name?: string;
    eventStoreConnectionString?: string;
  },
  kind: EventStoreConfig['kind'],
  logger: Logger,
): Promise<ReplayResult & { projections: string[]; seconds: number }> => {
  const store = await openEventStore({
    kind,
    path: path.join(options.dataDir, 'events.db'),
    connectionString: options.eventStoreConnectionString,
  });
  const db = openReadModelDb(path.join(options.dataDir, 'readmodels.db'));
  try {
    const all = createProjections(store);
    const chosen =
      options.name === undefined
        ? all
        : all.filter((p) => p.name === options.name);
    if (chosen.length === 0) {
      throw new Error(
        `no projection named '${options.name}'; known: ` +
          all.map((p) => p.name).join(', '),
      );
    }
    const started = performance.now();
    const result = await replayFromZero(store, db, chosen, { log: logger });
    return {
      ...result,
      projections: chosen.map((p) => p.name),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await store.close();
    db.close();
  }
};
