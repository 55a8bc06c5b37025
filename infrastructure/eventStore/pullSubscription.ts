import { Observable } from 'rxjs';
import { ReadAllOptions, RecordedEvent } from '../../application/eventStore';

/** What a pull subscription needs from a store. */
export interface PullSource {
  readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;
  /**
   * Fires when new events may be readable (after a commit); completes when
   * the store closes, which completes every subscription.
   */
  wakeUps: Observable<unknown>;
}

/** Options of `pullSubscription`. */
export interface PullSubscriptionOptions {
  /** First global position to deliver (inclusive). Default 1n. */
  fromPosition?: bigint;
  /** Events read per page. Default 1,000. */
  pageSize?: number;
  /**
   * Also pull every this many milliseconds, to see events that another
   * process committed. Default: off (only wake-ups trigger a pull).
   */
  pollIntervalMs?: number;
}

/**
 * Catch-up then live subscription to the global log, built only on
 * `readAll`. The subscriber remembers the next position it needs and pulls
 * pages from there until a page comes back short, then waits for a wake-up.
 * Because every event is fetched by position from the log itself, there is
 * no hand-over between a catch-up phase and a live phase that could lose or
 * repeat events, however appends interleave with the reads.
 */
export const pullSubscription = (
  source: PullSource,
  options: PullSubscriptionOptions = {},
): Observable<RecordedEvent> =>
  new Observable<RecordedEvent>((subscriber) => {
    const pageSize = options.pageSize ?? 1_000;
    let nextPosition = options.fromPosition ?? 1n;
    let pulling = false;
    // A wake-up during a pull must cause another pass: the pull may have
    // read its last page before the commit that triggered the wake-up.
    let pullAgain = false;

    const pull = async (): Promise<void> => {
      if (pulling) {
        pullAgain = true;
        return;
      }
      pulling = true;
      try {
        do {
          pullAgain = false;
          for (;;) {
            const page = await source.readAll({
              fromPosition: nextPosition,
              maxCount: pageSize,
            });
            for (const event of page) {
              if (subscriber.closed) return;
              subscriber.next(event);
              nextPosition = event.globalPosition + 1n;
            }
            if (page.length < pageSize) break;
          }
        } while (pullAgain && !subscriber.closed);
      } catch (error) {
        subscriber.error(error);
      } finally {
        pulling = false;
      }
    };

    const wakeUps = source.wakeUps.subscribe({
      next: () => void pull(),
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
    let timer: NodeJS.Timeout | undefined;
    if (options.pollIntervalMs !== undefined) {
      timer = setInterval(() => void pull(), options.pollIntervalMs);
      // A subscription alone must not keep the process alive.
      timer.unref();
    }
    void pull();

    return () => {
      wakeUps.unsubscribe();
      if (timer !== undefined) clearInterval(timer);
    };
  });
