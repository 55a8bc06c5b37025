/**
 * Entry point of the engine thread (see `EngineThread`): a `TradingEngine`
 * over its own connection to the events file, answering the host's
 * commands in batches.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { OrderActivity } from '../../application/engine';
import {
  engineConfigFrom,
  TradingEngine,
} from '../../application/tradingEngine';
import {
  candleFromEventData,
  candleToEventData,
} from '../../domain/market/candle';
import { SqliteEventStore } from '../eventStore/sqliteEventStore';
import { timeAppends } from '../metrics/timedEventStore';
import type {
  EngineCall,
  EngineHostMessage,
  EngineResult,
  EngineThreadMessage,
  EngineThreadSettings,
} from './engineThread';
import { errorToWire, openOrderToWire, outcomeToWire } from './engineWire';
import { portableFields } from './portableFields';

const port = parentPort!;
const settings = workerData as EngineThreadSettings;
const post = (message: EngineThreadMessage) => port.postMessage(message);

const log =
  (level: 'info' | 'warn' | 'error') =>
  (message: string, fields?: Record<string, unknown>) =>
    post({ kind: 'log', level, message, fields: portableFields(fields) });

// What the next `results` message carries besides answers.
let results: EngineResult[] = [];
let activity: OrderActivity[] = [];
let appendSeconds: number[] = [];
let reportScheduled = false;

const store = new SqliteEventStore({
  path: settings.eventsPath,
  durability: settings.durability,
  writer: settings.writer,
});
const engine = new TradingEngine(
  timeAppends(store, { observe: (seconds) => appendSeconds.push(seconds) }),
  { info: log('info'), warn: log('warn'), error: log('error') },
  engineConfigFrom(settings),
);
engine.activity.subscribe((event) => activity.push(event));

/**
 * Sends what settled in this turn as one message: a group commit settles
 * a whole batch of orders at once, and they go back together.
 */
const report = () => {
  reportScheduled = false;
  post({
    kind: 'results',
    results,
    activity,
    appendSeconds,
    head: store.knownHeadPosition(),
    now: engine.nowIso(),
  });
  results = [];
  activity = [];
  appendSeconds = [];
};

const settle = (result: EngineResult) => {
  results.push(result);
  if (reportScheduled) return;
  reportScheduled = true;
  setImmediate(report);
};

const run = (call: EngineCall): Promise<unknown> => {
  switch (call.method) {
    case 'placeOrder':
      return engine.placeOrder(...call.args).then(outcomeToWire);
    case 'cancelOrder':
      return engine.cancelOrder(...call.args);
    case 'setPaused':
      return engine.setPaused(...call.args);
    case 'ingestCandle':
      return engine.ingestCandle(candleFromEventData(call.args[0]));
    case 'openOrders':
      return engine.openOrders().then((orders) => orders.map(openOrderToWire));
    case 'lastCandles':
      return engine
        .lastCandles()
        .then((candles) => candles.map(candleToEventData));
  }
};

let inFlight = 0;
let stopRequested = false;

/** Closes the store once every command taken has been answered. */
const stopWhenIdle = async () => {
  if (!stopRequested || inFlight > 0) return;
  await store.close();
  if (reportScheduled) report();
  port.close();
};

port.on('message', (message: EngineHostMessage) => {
  if (message.kind === 'stop') {
    stopRequested = true;
    void stopWhenIdle();
    return;
  }
  for (const call of message.calls) {
    inFlight++;
    run(call)
      .then(
        (value) => settle({ id: call.id, value }),
        (error: unknown) => settle({ id: call.id, error: errorToWire(error) }),
      )
      .finally(() => {
        inFlight--;
        void stopWhenIdle();
      });
  }
});

engine.start().then(
  () => post({ kind: 'ready', now: engine.nowIso() }),
  (error: unknown) => {
    // The host's start fails with this thread's exit; say why first.
    log('error')('engine failed to start', { error });
    process.exit(1);
  },
);
