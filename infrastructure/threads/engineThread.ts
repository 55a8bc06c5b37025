import { Subject } from 'rxjs';
import type { Worker } from 'node:worker_threads';
import type { Engine, OrderActivity } from '../../application/engine';
import type { Logger } from '../../application/logger';
import type {
  OrderOutcome,
  OrderRequest,
} from '../../application/tradingEngine';
import type { OpenOrder } from '../../domain/account';
import {
  Candle,
  candleFromEventData,
  CandleClosedData,
  candleToEventData,
} from '../../domain/market/candle';
import { MiraiError } from '../../domain/errors';
import {
  errorFromWire,
  openOrderFromWire,
  outcomeFromWire,
  WireError,
  WireOutcome,
} from './engineWire';
import { startThread } from './startThread';

/** What the engine thread is started with. */
export interface EngineThreadSettings {
  eventsPath: string;
  durability: 'full' | 'normal';
  /** Where the thread's SQLite commits run: on it, or a writer thread. */
  writer: 'inline' | 'thread';
  accountId: string;
  initialBalance: string;
  slippageRate: string;
  takerFeeRate: string;
  makerFeeRate: string;
  defaultLeverage: number;
  maxPriceAgeMs: number;
}

/** The engine's methods a host may call, with their wire arguments. */
export interface EngineCalls {
  placeOrder: [request: OrderRequest];
  cancelOrder: [orderId: string, user: string];
  setPaused: [paused: boolean, user: string];
  ingestCandle: [candle: CandleClosedData];
  openOrders: [];
  lastCandles: [];
}

export type EngineCall = {
  [M in keyof EngineCalls]: { id: number; method: M; args: EngineCalls[M] };
}[keyof EngineCalls];

/** Messages to the engine thread. */
export type EngineHostMessage =
  { kind: 'calls'; calls: EngineCall[] } | { kind: 'stop' };

/** The answer to one call. */
export type EngineResult =
  { id: number; value: unknown } | { id: number; error: WireError };

/** Messages from the engine thread. */
export type EngineThreadMessage =
  | { kind: 'ready'; now: string }
  | {
      kind: 'results';
      results: EngineResult[];
      /** Order events made durable since the last message. */
      activity: OrderActivity[];
      /** Durations of the appends settled since the last message, s. */
      appendSeconds: number[];
      /** The highest global position the thread's store has written. */
      head: bigint;
      now: string;
    }
  | {
      kind: 'log';
      level: 'info' | 'warn' | 'error';
      message: string;
      fields?: Record<string, unknown>;
    };

/** What the host does with what the thread reports besides answers. */
export interface EngineThreadOptions {
  settings: EngineThreadSettings;
  log: Logger;
  /** Called with the thread's head position before answers settle. */
  onCommitted?: (head: bigint) => void;
  /** Called with each append's duration, s. */
  onAppendSeconds?: (seconds: number) => void;
}

interface Waiting {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The trading engine on a thread of its own, with its own connection to
 * the events file: deciding, hash-chaining, serialising and committing
 * orders never take the thread that answers HTTP, which only forwards
 * each command and relays the answer. Each command travels as soon as it
 * is made; answers settled together (a group commit's worth) come back
 * as one message.
 *
 * The engine there is the same `TradingEngine`: one writer per account
 * stream, answers only once events are durable. If the thread dies,
 * every command waiting or to come fails with 503 SYSTEM_MAINTENANCE
 * rather than hang; the events already committed are safe in the file.
 */
export class EngineThread implements Engine {
  readonly activity = new Subject<OrderActivity>();
  private readonly waiting = new Map<number, Waiting>();
  private outbox: EngineCall[] = [];
  private sendScheduled = false;
  private nextId = 0;
  private now: string;
  private broken: Error | null = null;
  private stopping: Promise<void> | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly options: EngineThreadOptions,
    now: string,
  ) {
    this.now = now;
  }

  /** Starts the thread; resolves once its engine has loaded the account. */
  static start(options: EngineThreadOptions): Promise<EngineThread> {
    const worker = startThread(
      __filename,
      'engineThreadEntry',
      options.settings,
    );
    return new Promise((resolve, reject) => {
      let host: EngineThread | null = null;
      worker.on('message', (message: EngineThreadMessage) => {
        if (message.kind === 'ready') {
          host = new EngineThread(worker, options, message.now);
          resolve(host);
        } else if (message.kind === 'log') {
          options.log[message.level](message.message, message.fields);
        } else {
          host?.receive(message);
        }
      });
      worker.on('error', (error) => {
        if (host) host.fail(error);
        else reject(error);
      });
      worker.on('exit', (code) => {
        const error = new Error(`engine thread exited (${code})`);
        if (!host) return reject(error);
        if (!host.stopping) host.fail(error);
      });
    });
  }

  isRunning(): boolean {
    return this.broken === null && this.stopping === null;
  }

  get accountId(): string {
    return this.options.settings.accountId;
  }

  nowIso(): string {
    return this.now;
  }

  async placeOrder(request: OrderRequest): Promise<OrderOutcome> {
    const wire = (await this.call('placeOrder', request)) as WireOutcome;
    return outcomeFromWire(wire);
  }

  cancelOrder(orderId: string, user: string): Promise<bigint> {
    return this.call('cancelOrder', orderId, user) as Promise<bigint>;
  }

  setPaused(paused: boolean, user: string): Promise<bigint> {
    return this.call('setPaused', paused, user) as Promise<bigint>;
  }

  ingestCandle(candle: Candle): Promise<boolean> {
    return this.call(
      'ingestCandle',
      candleToEventData(candle),
    ) as Promise<boolean>;
  }

  async openOrders(): Promise<OpenOrder[]> {
    const wire = (await this.call('openOrders')) as Record<string, unknown>[];
    return wire.map(openOrderFromWire);
  }

  async lastCandles(): Promise<Candle[]> {
    const wire = (await this.call('lastCandles')) as CandleClosedData[];
    return wire.map(candleFromEventData);
  }

  /**
   * Lets the commands already sent finish and their events land, then
   * ends the thread. Commands after this fail with 503
   * SYSTEM_MAINTENANCE.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.broken) return;
      this.flushOutbox();
      const exited = new Promise<void>((resolve) =>
        this.worker.once('exit', () => resolve()),
      );
      this.worker.postMessage({ kind: 'stop' } satisfies EngineHostMessage);
      await exited;
      this.fail(new Error('engine stopped'));
    })();
    return this.stopping;
  }

  private call<M extends keyof EngineCalls>(
    method: M,
    ...args: EngineCalls[M]
  ): Promise<unknown> {
    if (this.broken || this.stopping) {
      return Promise.reject(unavailable(this.broken));
    }
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve, reject });
      this.outbox.push({ id, method, args } as EngineCall);
      if (this.sendScheduled) return;
      this.sendScheduled = true;
      // Sent at once, not held for the rest of this turn's requests: the
      // thread starts on it while this one parses the next. (Holding
      // commands to the end of the turn, or until four or eight had
      // gathered, measured no faster.) Commands of one synchronous run
      // share a message.
      queueMicrotask(() => this.flushOutbox());
    });
  }

  private flushOutbox(): void {
    this.sendScheduled = false;
    if (this.outbox.length === 0) return;
    const calls = this.outbox;
    this.outbox = [];
    this.worker.postMessage({
      kind: 'calls',
      calls,
    } satisfies EngineHostMessage);
  }

  private receive(
    message: Extract<EngineThreadMessage, { kind: 'results' }>,
  ): void {
    this.now = message.now;
    // Before any answer goes out: a client that reads after its order
    // must find the order's position known here.
    this.options.onCommitted?.(message.head);
    for (const seconds of message.appendSeconds) {
      this.options.onAppendSeconds?.(seconds);
    }
    for (const activity of message.activity) this.activity.next(activity);
    for (const result of message.results) {
      const waiting = this.waiting.get(result.id);
      if (!waiting) continue;
      this.waiting.delete(result.id);
      if ('error' in result) waiting.reject(errorFromWire(result.error));
      else waiting.resolve(result.value);
    }
  }

  /** The thread is gone: every command waiting or to come fails. */
  private fail(error: Error): void {
    if (!this.broken && !this.stopping) {
      this.options.log.error('engine thread failed', { error });
    }
    this.broken ??= error;
    const refused = unavailable(error);
    for (const waiting of this.waiting.values()) waiting.reject(refused);
    this.waiting.clear();
    this.outbox = [];
  }
}

const unavailable = (cause: Error | null) =>
  new MiraiError(
    'SYSTEM_MAINTENANCE',
    cause?.message === 'engine stopped'
      ? 'The engine is stopping'
      : 'The trading engine is not running',
  );
