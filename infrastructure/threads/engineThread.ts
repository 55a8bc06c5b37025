import { Subject } from 'rxjs';
import type { Worker } from 'node:worker_threads';
import type { Engine, OrderActivity } from '../../application/engine';
import type { Logger } from '../../application/logger';
import {
  defaultEngineConfig,
  type EngineSettings,
  type OrderOutcome,
  type OrderRequest,
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
export interface EngineThreadSettings extends EngineSettings {
  eventsPath: string;
  durability: 'full' | 'normal';
  /** Where the thread's SQLite commits run: on it, or a writer thread. */
  writer: 'inline' | 'thread';
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
 * every command waiting fails with 503 SYSTEM_MAINTENANCE rather than
 * hang (the events already committed are safe in the file), and so does
 * every command until a new thread has loaded the account again.
 */
export class EngineThread implements Engine {
  readonly activity = new Subject<OrderActivity>();
  private readonly waiting = new Map<number, Waiting>();
  private outbox: EngineCall[] = [];
  private sendScheduled = false;
  private nextId = 0;
  private now = new Date().toISOString();
  private worker: Worker | null = null;
  /** Why no thread takes commands now; null while one does. */
  private broken: Error | null = null;
  /** A thread being started, until it is ready or has failed. */
  private launching: Promise<void> | null = null;
  /** When the thread was restarted within the last minute, ms. */
  private restarts: number[] = [];
  private stopping: Promise<void> | null = null;

  private constructor(private readonly options: EngineThreadOptions) {}

  /** Starts the thread; resolves once its engine has loaded the account. */
  static async start(options: EngineThreadOptions): Promise<EngineThread> {
    const host = new EngineThread(options);
    await host.launch();
    return host;
  }

  /** Starts a thread; resolves once its engine is ready for commands. */
  private launch(): Promise<void> {
    const worker = startThread(
      __filename,
      'engineThreadEntry',
      this.options.settings,
    );
    this.launching = new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (message: EngineThreadMessage) => {
        if (message.kind === 'ready') {
          ready = true;
          this.worker = worker;
          this.now = message.now;
          this.broken = null;
          resolve();
        } else if (message.kind === 'log') {
          this.options.log[message.level](message.message, message.fields);
        } else if (worker === this.worker) {
          this.receive(message);
        }
      });
      worker.on('error', (error) =>
        ready ? this.threadDied(worker, error) : reject(error),
      );
      worker.on('exit', (code) => {
        const error = new Error(`engine thread exited (${code})`);
        if (ready) this.threadDied(worker, error);
        else reject(error);
      });
    }).finally(() => {
      this.launching = null;
    });
    return this.launching;
  }

  /**
   * The thread ended without being asked to: commands waiting fail, and
   * after a pause a new thread starts, loading the account from the
   * store as at a restart. After {@link MAX_RESTARTS_PER_MINUTE}
   * restarts within a minute the engine stays stopped (and
   * `/api/health` unhealthy) for a supervisor to restart the process.
   */
  private threadDied(worker: Worker, error: Error): void {
    // A thread that fails both errors and exits: handle it once.
    if (worker !== this.worker || this.stopping) return;
    this.worker = null;
    this.fail(error);
    this.restartLater();
  }

  private restartLater(): void {
    const now = Date.now();
    this.restarts = this.restarts.filter((at) => now - at < 60_000);
    if (this.restarts.length >= MAX_RESTARTS_PER_MINUTE) {
      this.options.log.error('engine thread keeps failing; not restarting', {
        restartsInLastMinute: this.restarts.length,
      });
      return;
    }
    this.restarts.push(now);
    const pauseMs = RESTART_PAUSE_MS * 2 ** (this.restarts.length - 1);
    setTimeout(() => {
      if (this.stopping) return;
      this.launch().then(
        () => this.options.log.info('engine thread restarted', { pauseMs }),
        (error: unknown) => {
          this.options.log.error('engine thread failed to restart', {
            error,
          });
          this.restartLater();
        },
      );
    }, pauseMs).unref();
  }

  isRunning(): boolean {
    return this.broken === null && this.stopping === null;
  }

  /** The thread's engine trades for the default account. */
  get accountId(): string {
    return defaultEngineConfig().accountId;
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
      this.flushOutbox();
      // A thread being restarted is let start, then stopped.
      await this.launching?.catch(() => undefined);
      const worker = this.worker;
      if (worker) {
        const exited = new Promise<void>((resolve) =>
          worker.once('exit', () => resolve()),
        );
        worker.postMessage({ kind: 'stop' } satisfies EngineHostMessage);
        await exited;
      }
      this.fail(new Error('engine stopped'));
    })();
    return this.stopping;
  }

  private call<M extends keyof EngineCalls>(
    method: M,
    ...args: EngineCalls[M]
  ): Promise<unknown> {
    if (this.broken || this.stopping) {
      return Promise.reject(unavailable(this.stopping !== null));
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
    if (this.outbox.length === 0 || !this.worker) return;
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
    const refused = unavailable(this.stopping !== null);
    for (const waiting of this.waiting.values()) waiting.reject(refused);
    this.waiting.clear();
    this.outbox = [];
  }
}

/** Restarts allowed within a minute before the engine stays stopped. */
const MAX_RESTARTS_PER_MINUTE = 3;
/** Pause before the first restart, ms; it doubles with each further one. */
const RESTART_PAUSE_MS = 100;

const unavailable = (stopping: boolean) =>
  new MiraiError(
    'SYSTEM_MAINTENANCE',
    stopping ? 'The engine is stopping' : 'The trading engine is not running',
  );
