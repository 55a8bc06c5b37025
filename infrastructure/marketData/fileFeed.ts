import type { Candle } from '../../domain/market/candle';
import { Logger, createLogger } from '../logging/logger';
import {
  CandleFileIssue,
  CandleFileOptions,
  readCandleFile,
} from './candleFileParser';
import {
  CandleSink,
  FeedClock,
  FeedLifecycle,
  FeedResult,
  wallClock,
} from './marketFeed';

/** A candle file, with what its name does not say. */
export interface CandleFileSource extends Pick<
  CandleFileOptions,
  'symbol' | 'interval' | 'format' | 'gzip'
> {
  path: string;
}

/** How far a replay has come; see {@link FileFeedOptions.onProgress}. */
export interface FileFeedProgress {
  emitted: number;
  skipped: number;
  issues: number;
  /** Open time of the last emitted candle, epoch ms. */
  openTime: number;
}

/** What a file replay reports when it ends. */
export interface FileFeedResult extends FeedResult {
  /** Candles passed over because of `skipThrough`. */
  skipped: number;
  /** Bad rows skipped. */
  issues: number;
}

/** Options of {@link FileFeed}. */
export interface FileFeedOptions {
  /** Files to replay: paths (symbol and interval from the name) or sources. */
  files: Array<string | CandleFileSource>;
  /**
   * `'max'`: as fast as the sink takes candles. A number: a multiple of
   * real time, by open time (3600 emits 1h candles one second apart).
   * Default `'max'`.
   */
  speed?: 'max' | number;
  /**
   * Per symbol, the open time (epoch ms) of the last candle already
   * ingested: candles up to and including it are skipped, to resume.
   */
  skipThrough?: Record<string, number>;
  /** Stop after this many candles emitted across all files. Default: all. */
  maxCandles?: number;
  /** Called for each bad row skipped, after it is logged. */
  onIssue?: (issue: CandleFileIssue) => void;
  /** Called every `progressEvery` candles emitted, and at the end. */
  onProgress?: (progress: FileFeedProgress) => void;
  /** Candles between `onProgress` calls. Default 1000. */
  progressEvery?: number;
  /**
   * Candles between yields to the event loop, so that a server in the
   * same process stays responsive under `'max'`. Default 256.
   */
  yieldEvery?: number;
  /** Where bad rows and the summary are logged. Default: JSON to stdout. */
  logger?: Logger;
  /** Time source for pacing. Default: the wall clock. */
  clock?: FeedClock;
}

/**
 * Replays candle files merged in time order (open time, then symbol; files
 * read in parallel, a row at a time), awaiting the sink for each candle.
 * Each file must be in ascending order, which the parser enforces by
 * skipping rows that go back in time.
 */
export class FileFeed extends FeedLifecycle<FileFeedResult> {
  private readonly logger: Logger;

  constructor(private readonly options: FileFeedOptions) {
    super(options.clock ?? wallClock);
    this.logger = options.logger ?? createLogger('fileFeed');
  }

  protected resultBeforeStart(): FileFeedResult {
    return { emitted: 0, skipped: 0, issues: 0, stopped: true };
  }

  protected async run(sink: CandleSink): Promise<FileFeedResult> {
    const { speed = 'max', skipThrough = {}, onProgress } = this.options;
    const maxCandles = this.options.maxCandles ?? Infinity;
    const progressEvery = this.options.progressEvery ?? 1000;
    const yieldEvery = this.options.yieldEvery ?? 256;
    const result: FileFeedResult = {
      emitted: 0,
      skipped: 0,
      issues: 0,
      stopped: false,
    };
    const onIssue = (issue: CandleFileIssue): void => {
      result.issues += 1;
      this.logger.warn('bad candle row skipped', { ...issue });
      this.options.onIssue?.(issue);
    };
    const progress = (openTime: number): void =>
      onProgress?.({
        emitted: result.emitted,
        skipped: result.skipped,
        issues: result.issues,
        openTime,
      });

    let first: { openTime: number; wallTime: number } | undefined;
    let lastOpenTime = NaN;
    let handled = 0;
    const candles = mergeCandleFiles(this.options.files, onIssue);
    try {
      for await (const candle of candles) {
        if (this.stopping || result.emitted >= maxCandles) break;
        handled += 1;
        if (handled % yieldEvery === 0) await this.yieldToEventLoop();

        const resumeAfter = skipThrough[candle.symbol];
        if (resumeAfter !== undefined && candle.openTime <= resumeAfter) {
          result.skipped += 1;
          continue;
        }

        // Pace against the first emitted candle rather than the previous
        // one, so the time a slow sink takes is caught up, not added.
        if (speed !== 'max') {
          first ??= { openTime: candle.openTime, wallTime: this.clock.now() };
          const due =
            first.wallTime + (candle.openTime - first.openTime) / speed;
          await this.pause(due - this.clock.now());
          if (this.stopping) break;
        }

        await sink(candle);
        result.emitted += 1;
        lastOpenTime = candle.openTime;
        if (result.emitted % progressEvery === 0) progress(lastOpenTime);
        if (result.emitted >= maxCandles) break;
      }
    } finally {
      await candles.return(undefined);
    }

    result.stopped = this.stopping;
    progress(lastOpenTime);
    this.logger.info('file feed ended', { ...result });
    return result;
  }
}

/**
 * Merges the candles of several files by open time, then symbol (then
 * file order, for two files of one symbol). Reads each file lazily.
 */
export async function* mergeCandleFiles(
  files: Array<string | CandleFileSource>,
  onIssue?: (issue: CandleFileIssue) => void,
): AsyncGenerator<Candle> {
  const sources = files.map((file) => {
    const { path, ...options } =
      typeof file === 'string' ? { path: file } : file;
    return readCandleFile(path, { ...options, onIssue });
  });
  try {
    const heads: Array<Candle | undefined> = [];
    for (const source of sources) heads.push(await nextOf(source));

    for (;;) {
      let pick = -1;
      heads.forEach((head, i) => {
        if (head && (pick < 0 || comesBefore(head, heads[pick]!))) pick = i;
      });
      if (pick < 0) return;
      yield heads[pick]!;
      heads[pick] = await nextOf(sources[pick]);
    }
  } finally {
    for (const source of sources) await source.return(undefined);
  }
}

const nextOf = async (
  source: AsyncGenerator<Candle>,
): Promise<Candle | undefined> => {
  const next = await source.next();
  return next.done ? undefined : next.value;
};

const comesBefore = (a: Candle, b: Candle): boolean =>
  a.openTime !== b.openTime ? a.openTime < b.openTime : a.symbol < b.symbol;
