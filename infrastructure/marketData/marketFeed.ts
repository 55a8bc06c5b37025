import { setImmediate as nextTurn, setTimeout as wait } from 'timers/promises';
import { MiraiError } from '../../domain/errors';
import type { Candle } from '../../domain/market/candle';

/**
 * Receives each candle a feed emits. The feed awaits it before the next
 * candle, so a slow sink slows the feed down instead of queueing candles.
 */
export type CandleSink = (candle: Candle) => Promise<void>;

/** What every feed reports when it ends. */
export interface FeedResult {
  /** Candles handed to the sink. */
  emitted: number;
  /** True when `stop()` ended the feed before it ran out of candles. */
  stopped: boolean;
}

/** A source of closed candles: file replay, simulation, exchange. */
export interface MarketFeed {
  /**
   * Begins emitting candles to `sink`. A feed runs once: a second call,
   * or a call after `stop()`, throws a `CONFLICT` MiraiError.
   */
  start(sink: CandleSink): void;
  /**
   * Asks the feed to end after the sink call in progress, if any, and
   * resolves once it has ended. Never rejects.
   */
  stop(): Promise<void>;
  /**
   * Settles when the feed ends: resolves with its result, or rejects with
   * the sink's or the source's error.
   */
  readonly done: Promise<FeedResult>;
}

/** Wall time and waiting, injected so tests can run feeds without sleeping. */
export interface FeedClock {
  /** Current time, Unix epoch milliseconds. */
  now(): number;
  /** Resolves after `ms` milliseconds, or early when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** The real clock: `Date.now` and an abortable timer. */
export const wallClock: FeedClock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    try {
      await wait(ms, undefined, { signal });
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error;
    }
  },
};

/**
 * The start/stop/done lifecycle shared by feeds; a subclass only says how
 * to run. Internal to this folder.
 */
export abstract class FeedLifecycle<
  R extends FeedResult,
> implements MarketFeed {
  readonly done: Promise<R>;
  private state: 'idle' | 'running' | 'ended' = 'idle';
  private readonly abort = new AbortController();
  private settle!: { resolve: (r: R) => void; reject: (e: unknown) => void };

  protected constructor(protected readonly clock: FeedClock) {
    this.done = new Promise<R>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A caller may only ever call stop(); a failed run must not then
    // surface as an unhandled rejection that kills the process.
    this.done.catch(() => undefined);
  }

  start(sink: CandleSink): void {
    if (this.state !== 'idle') {
      throw new MiraiError('CONFLICT', `feed already ${this.state}`);
    }
    this.state = 'running';
    this.run(sink)
      .then(this.settle.resolve, this.settle.reject)
      .finally(() => {
        this.state = 'ended';
      });
  }

  stop(): Promise<void> {
    this.abort.abort();
    if (this.state === 'idle') {
      this.state = 'ended';
      this.settle.resolve(this.resultBeforeStart());
    }
    return this.done.then(
      () => undefined,
      () => undefined,
    );
  }

  /** True once `stop()` was called. */
  protected get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  /** Sleeps `ms` milliseconds (none if ≤ 0), cut short by `stop()`. */
  protected async pause(ms: number): Promise<void> {
    if (ms > 0 && !this.stopping) {
      await this.clock.sleep(ms, this.abort.signal);
    }
  }

  /** Lets timers and I/O (an HTTP server, say) run between candles. */
  protected yieldToEventLoop(): Promise<void> {
    return nextTurn();
  }

  /** Emits every candle, checking `stopping` between them. */
  protected abstract run(sink: CandleSink): Promise<R>;

  /** The result when `stop()` comes before `start()`. */
  protected abstract resultBeforeStart(): R;
}
