/**
 * Market data feeds: candle files (freqtrade JSON, gzipped JSON, Binance
 * kline CSV) parsed into Candles, a time-ordered file replay, and a seeded
 * random-walk simulation, all behind the MarketFeed start/stop/done shape.
 */
export type {
  CandleFileFormat,
  CandleFileInfo,
  CandleFileIssue,
  CandleFileOptions,
} from './candleFileParser';
export {
  inferCandleFileInfo,
  loadCandleFile,
  readCandleFile,
} from './candleFileParser';
export type {
  CandleFileSource,
  FileFeedOptions,
  FileFeedProgress,
  FileFeedResult,
} from './fileFeed';
export { FileFeed, mergeCandleFiles } from './fileFeed';
export type {
  CandleSink,
  FeedClock,
  FeedResult,
  MarketFeed,
} from './marketFeed';
export { wallClock } from './marketFeed';
export type {
  SimulatedCandleInput,
  SimulatedFeedOptions,
} from './simulatedFeed';
export {
  DEFAULT_START_PRICES,
  DEFAULT_TICK_SIZES,
  SimulatedFeed,
  simulateCandle,
} from './simulatedFeed';
