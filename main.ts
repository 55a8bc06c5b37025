#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { INTERVAL_MS } from './domain/market/candle';
import { SUPPORTED_SYMBOLS } from './domain/market/symbols';
import { addUser, isRole, ROLES } from './infrastructure/auth';
import { createLogger } from './infrastructure/logging/logger';
import {
  CandleFileSource,
  inferCandleFileInfo,
} from './infrastructure/marketData';
import {
  defaultSettings,
  FeedSettings,
  rebuildReadModels,
  startMirai,
} from './server';

const wholeNumber = (text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidArgumentError('expected a whole number');
  }
  return value;
};

const speed = (text: string): 'max' | number => {
  if (text === 'max') return 'max';
  const value = Number(text);
  if (!(value > 0))
    throw new InvalidArgumentError("expected 'max' or a positive number");
  return value;
};

const decimalText = (text: string): string => {
  if (!/^\d+(\.\d+)?$/.test(text))
    throw new InvalidArgumentError('expected a decimal number');
  return text;
};

/**
 * Checks a --data file before the server starts, so a typo fails the
 * command instead of leaving a server running without prices.
 */
const candleSource = (
  file: string,
  symbol: string | undefined,
  interval: string | undefined,
): CandleFileSource => {
  const resolved = path.resolve(file);
  if (!existsSync(resolved)) {
    throw new InvalidArgumentError(`candle file not found: ${resolved}`);
  }
  const info = inferCandleFileInfo(resolved);
  const source = {
    path: resolved,
    symbol: symbol ?? info.symbol,
    interval: interval ?? info.interval,
  };
  if (!source.symbol || !source.interval) {
    throw new InvalidArgumentError(
      `cannot tell the symbol and interval of ${resolved} from its name ` +
        '(BTC_USDT-1h.json or BTCUSDT-1h-2021-01.csv); pass --symbol and --interval',
    );
  }
  if (!SUPPORTED_SYMBOLS.includes(source.symbol)) {
    throw new InvalidArgumentError(
      `symbol ${source.symbol} of ${resolved} is not traded; supported: ${SUPPORTED_SYMBOLS.join(', ')}`,
    );
  }
  if (INTERVAL_MS[source.interval] === undefined) {
    throw new InvalidArgumentError(
      `unknown candle interval '${source.interval}'`,
    );
  }
  return source;
};

const program = new Command()
  .name('mirai')
  .description('Event-sourced crypto trading core (simulation mode)');

program
  .command('serve', { isDefault: true })
  .description('run the API server and the paper-trading engine')
  .option('--port <port>', 'HTTP port', wholeNumber, 8001)
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option(
    '--data-dir <dir>',
    'folder of the event store, users and secret',
    './data',
  )
  .addOption(
    new Option('--store <kind>', 'event store')
      .choices(['sqlite', 'memory', 'eventstoredb'])
      .default('sqlite'),
  )
  .addOption(
    new Option(
      '--durability <level>',
      "SQLite fsync: 'full' (every commit) or 'normal' (checkpoints)",
    )
      .choices(['full', 'normal'])
      .default('full'),
  )
  .addOption(
    new Option(
      '--writer <where>',
      "where SQLite commits run: 'inline' (the HTTP thread) or 'thread' " +
        '(a writer thread: keeps slow fsyncs off HTTP when a core is free)',
    )
      .choices(['inline', 'thread'])
      .default('inline'),
  )
  .addOption(
    new Option(
      '--engine <where>',
      "where the trading engine runs: 'thread' (its own, the default with " +
        "the SQLite store) or 'inline' (the HTTP thread)",
    )
      .choices(['inline', 'thread'])
      .default('thread'),
  )
  .option(
    '--eventstore <url>',
    'EventStoreDB connection string (with --store eventstoredb)',
  )
  .option(
    '--data <file...>',
    'replay candle files (freqtrade JSON, JSON.gz, Binance CSV) instead of the simulated feed',
  )
  .option(
    '--speed <speed>',
    "replay speed: 'max' or a multiple of real time",
    speed,
    'max' as const,
  )
  .option('--max-candles <n>', 'stop the replay after n candles', wholeNumber)
  .option('--seed <n>', 'seed of the simulated feed', wholeNumber, 42)
  .option(
    '--symbol <symbol>',
    'symbol of --data files whose name does not say it',
  )
  .option(
    '--interval <interval>',
    'candle interval of --data files whose name does not say it',
  )
  .option('--no-feed', 'run without any market data feed')
  .option(
    '--balance <usdt>',
    'simulated balance of a new account',
    decimalText,
    '10000',
  )
  .option(
    '--slippage <rate>',
    'slippage of taker fills, as a fraction',
    decimalText,
    '0.0005',
  )
  .option('--taker-fee <rate>', 'taker fee rate', decimalText, '0.001')
  .option('--maker-fee <rate>', 'maker fee rate', decimalText, '0.001')
  .option(
    '--leverage <n>',
    'leverage of new positions when an order names none',
    wholeNumber,
    1,
  )
  .option(
    '--reads-require-token',
    'require a token for GET requests too',
    false,
  )
  .option(
    '--trust-proxy <hops>',
    'proxies in front of Mirai whose X-Forwarded-For counts',
    wholeNumber,
    0,
  )
  .option('--cors <origin...>', 'origins allowed by CORS')
  .option('--public-limit <n>', 'public requests per minute', wholeNumber)
  .option('--trading-limit <n>', 'trading requests per minute', wholeNumber)
  .option('--bulk-limit <n>', 'bulk requests per minute', wholeNumber)
  .action(async (options) => {
    let feed: FeedSettings = defaultSettings().feed;
    if (!options.feed && options.data) {
      throw new InvalidArgumentError('--no-feed and --data exclude each other');
    }
    if (!options.feed) feed = { kind: 'none' };
    else if (options.data) {
      feed = {
        kind: 'file',
        files: (options.data as string[]).map((file) =>
          candleSource(file, options.symbol, options.interval),
        ),
        speed: options.speed,
        maxCandles: options.maxCandles,
      };
    } else {
      feed = {
        kind: 'simulated',
        seed: options.seed,
        emitEveryMs: 1000,
        interval: '1m',
      };
    }
    const running = await startMirai({
      port: options.port,
      host: options.host,
      dataDir: options.dataDir,
      store: options.store,
      eventStoreConnectionString: options.eventstore,
      durability: options.durability,
      writer: options.writer,
      engine: options.engine,
      feed,
      initialBalance: options.balance,
      slippageRate: options.slippage,
      takerFeeRate: options.takerFee,
      makerFeeRate: options.makerFee,
      defaultLeverage: options.leverage,
      readsRequireToken: options.readsRequireToken,
      trustProxy: options.trustProxy,
      corsOrigins: options.cors ?? [],
      rateLimits: {
        public: options.publicLimit,
        trading: options.tradingLimit,
        bulk: options.bulkLimit,
      },
    });
    if (running.initialAdminPassword) {
      process.stdout.write(
        `\nCreated user 'admin' with password: ${running.initialAdminPassword}\n` +
          'It is shown only this once; only its hash is stored.\n\n',
      );
    }
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      createLogger('mirai').info('shutting down', { signal });
      running.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    stopWhenNpmIsGone(() => shutdown('parent exited'));
  });

/**
 * Under `npm start`, a SIGTERM sent to npm reaches only the shell that
 * runs the script, which dies without passing it on: the server would
 * go on, orphaned, holding its port and data folder. So a process npm
 * started checks every second that its parent is still there, and stops
 * as on SIGTERM once it is not. Run directly (`node --import tsx main.ts
 * serve`), it does not watch.
 */
const stopWhenNpmIsGone = (stop: () => void): void => {
  if (process.env.npm_lifecycle_event === undefined) return;
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop();
  }, 1_000).unref();
};

program
  .command('user')
  .description('manage users')
  .command('add <username> <role>')
  .description(`add a user or reset its password; role: ${ROLES.join(', ')}`)
  .option('--data-dir <dir>', 'data folder holding users.json', './data')
  .option(
    '--password <password>',
    'password (default: read MIRAI_USER_PASSWORD)',
  )
  .action(async (username: string, role: string, options) => {
    if (!isRole(role))
      throw new InvalidArgumentError(`role must be one of ${ROLES.join(', ')}`);
    const password = options.password ?? process.env.MIRAI_USER_PASSWORD;
    if (!password)
      throw new InvalidArgumentError(
        'give --password or set MIRAI_USER_PASSWORD',
      );
    await addUser(
      path.join(options.dataDir, 'users.json'),
      username,
      password,
      role,
    );
    process.stdout.write(`user '${username}' saved with role ${role}\n`);
  });

program
  .command('rebuild [projection]')
  .description(
    'drop read models (all, or one) and fold them again from the events; stop the server first',
  )
  .option(
    '--data-dir <dir>',
    'data folder holding events.db and readmodels.db',
    './data',
  )
  .action(async (projection: string | undefined, options) => {
    const result = await rebuildReadModels({
      dataDir: options.dataDir,
      name: projection,
    });
    // A log line like every other, in the format the README describes.
    createLogger('mirai').info('read models rebuilt', {
      projections: result.projections,
      events: result.events,
      head: result.head.toString(),
      seconds: Number(result.seconds.toFixed(3)),
      failed: result.failed.map((f) => ({
        ...f,
        globalPosition: f.globalPosition.toString(),
      })),
    });
    if (result.failed.length > 0) process.exitCode = 1;
  });

program.parseAsync().catch((error: Error) => {
  process.stderr.write(`mirai: ${error.message}\n`);
  process.exit(1);
});
