import type {
  AppendResult,
  EventData,
  EventStore,
  ExpectedRevision,
} from '../../application/eventStore';

/**
 * The same store, with the time each append takes (until it is durable,
 * or fails), in seconds, observed into `histogram`: what
 * `eventstore_append_duration_seconds` shows. Reads pass straight through.
 */
export const timeAppends = (
  store: EventStore,
  histogram: { observe(seconds: number): void },
): EventStore => ({
  append(
    streamId: string,
    events: EventData[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    const started = performance.now();
    const observe = () =>
      histogram.observe((performance.now() - started) / 1e3);
    const appended = store.append(streamId, events, expectedRevision);
    appended.then(observe, observe);
    return appended;
  },
  readStream: (streamId, options) => store.readStream(streamId, options),
  readAll: (options) => store.readAll(options),
  subscribeAll: (options) => store.subscribeAll(options),
  headPosition: () => store.headPosition(),
  close: () => store.close(),
});
