import { Observable, Subject, Subscription } from 'rxjs';
import type { EventStore, RecordedEvent } from '../application/eventStore';
import {
  eventIdentity,
  readCheckpoint,
  readCheckpointEvent,
  writeCheckpoint,
} from './checkpoints';
import type { Projection, ProjectionStatus, ReadModelDb } from './projection';
import {
  BatchCounters,
  lowestCheckpointOf,
  ReadModelChange,
  ReadModelRuntime,
  waitForProjections,
} from './readModelRuntime';

/** Where the runtime reports; the application's logger fits. */
export interface ProjectionLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Options of `ProjectionRuntime`. */
export interface ProjectionRuntimeOptions {
  store: EventStore;
  db: ReadModelDb;
  projections: Projection[];
  /** Most events folded per transaction. Default 1,000. */
  batchSize?: number;
  log?: ProjectionLog;
}

interface Runner {
  projection: Projection;
  checkpoint: bigint;
  state: ProjectionStatus['state'];
  failure?: ProjectionStatus['failure'];
  subscription?: Subscription;
  /** True while fed by the runtime's shared subscription. */
  shared: boolean;
  /** Settles when the last batch given to this runner is applied. */
  work: Promise<void>;
}

/** Events of one subscription waiting to become a batch. */
interface Feed {
  buffer: RecordedEvent[];
  flushScheduled: boolean;
  /** Batches of this feed run one after another on this chain. */
  work: Promise<void>;
}

const newFeed = (): Feed => ({
  buffer: [],
  flushScheduled: false,
  work: Promise.resolve(),
});

const quiet: ProjectionLog = { info: () => undefined, error: () => undefined };

/**
 * Runs projections live: each subscribes to `$all` from its own checkpoint
 * + 1 and folds what arrives in batches (everything one event-loop turn
 * delivers, at most `batchSize`), committing read model and checkpoint in
 * one SQLite transaction. An event at or below the checkpoint is skipped,
 * so a redelivery changes nothing. A projection whose fold throws logs the
 * event's position and type and stops; the others go on.
 */
export class ProjectionRuntime implements ReadModelRuntime {
  private readonly runners = new Map<string, Runner>();
  private readonly advanced = new Subject<void>();
  /** Emits after each batch, committed or failed. */
  readonly progress: Observable<void> = this.advanced.asObservable();
  /** Emits after each committed batch that changed a read model. */
  readonly changes = new Subject<ReadModelChange>();
  private readonly store: EventStore;
  private readonly db: ReadModelDb;
  private readonly batchSize: number;
  private readonly log: ProjectionLog;
  private sharedSubscription?: Subscription;
  private readonly sharedFeed = newFeed();
  private committedBatches = 0;
  private failedBatches = 0;

  constructor(options: ProjectionRuntimeOptions) {
    this.store = options.store;
    this.db = options.db;
    this.batchSize = options.batchSize ?? 1_000;
    this.log = options.log ?? quiet;
    for (const projection of options.projections) {
      if (this.runners.has(projection.name)) {
        throw new Error(`two projections named '${projection.name}'`);
      }
      projection.setup(this.db);
      projection.load(this.db);
      this.runners.set(projection.name, {
        projection,
        checkpoint: readCheckpoint(this.db, projection.name),
        state: 'stopped',
        shared: false,
        work: Promise.resolve(),
      });
    }
  }

  /** Names of the projections, in the order they were given. */
  names(): string[] {
    return [...this.runners.keys()];
  }

  /**
   * Subscribes every projection from its checkpoint. One subscription,
   * from the lowest checkpoint, feeds them all, so each event is read and
   * decoded once rather than once per projection; a projection skips the
   * events its checkpoint already holds. Their batches commit together in
   * one transaction.
   *
   * A read model whose checkpoint lies beyond the end of the event log
   * was built from another log (the events file was replaced or lost its
   * last writes): it is emptied and folded again from the start, since
   * the positions it holds will be reused by different events. Resolves
   * once the subscription is open.
   */
  start(): Promise<void> {
    const runners = [...this.runners.values()];
    for (const runner of runners) {
      runner.state = 'running';
      runner.failure = undefined;
      runner.shared = true;
    }
    const shared = this.sharedFeed;
    const sharing = () =>
      runners.filter((r) => r.shared && r.state === 'running');
    return this.dropReadModelsAheadOfTheLog().then(() => {
      if (sharing().length === 0) return; // stopped meanwhile
      this.sharedSubscription = this.store
        .subscribeAll({ fromPosition: this.lowestCheckpoint() + 1n })
        .subscribe({
          next: (event) => this.receive(shared, event, sharing),
          error: (error: unknown) => {
            for (const runner of sharing()) {
              runner.state = 'failed';
              this.log.error('projection subscription failed', {
                projection: runner.projection.name,
                error,
              });
            }
          },
        });
    });
  }

  private async dropReadModelsAheadOfTheLog(): Promise<void> {
    const head = await this.store.headPosition();
    for (const [name, runner] of this.runners) {
      const reason = await this.foldedFromAnotherLog(name, runner, head);
      if (!reason) continue;
      this.log.error(
        `read model ${name} ${reason}; folding it again from the start`,
        { projection: name, checkpoint: runner.checkpoint, head },
      );
      this.resetRunner(name, runner);
    }
  }

  /** Why a read model cannot go on from its checkpoint, if it cannot. */
  private async foldedFromAnotherLog(
    name: string,
    runner: Runner,
    head: bigint,
  ): Promise<string | null> {
    if (runner.checkpoint === 0n) return null;
    if (runner.checkpoint > head) {
      return (
        `is at position ${runner.checkpoint} but the event log ends at ` + head
      );
    }
    const expected = readCheckpointEvent(this.db, name);
    if (expected === null) return null; // checkpoint from before identities
    const [event] = await this.store.readAll({
      fromPosition: runner.checkpoint,
      maxCount: 1,
    });
    const found = event && event.globalPosition === runner.checkpoint;
    if (found && eventIdentity(event) === expected) return null;
    return (
      'was folded from another event log (the event at position ' +
      `${runner.checkpoint} is not the one it folded)`
    );
  }

  /** Empties a projection's read model and sets its checkpoint to 0. */
  private resetRunner(name: string, runner: Runner): void {
    this.db.transaction(() => {
      runner.projection.reset(this.db);
      writeCheckpoint(this.db, name, 0n);
    })();
    runner.projection.load(this.db);
    runner.checkpoint = 0n;
    this.changes.next({ projection: name, checkpoint: 0n });
  }

  /** Gives one projection a subscription of its own (after a rebuild). */
  private subscribe(runner: Runner): void {
    runner.shared = false;
    runner.state = 'running';
    runner.failure = undefined;
    const feed = newFeed();
    const alone = () => (runner.state === 'running' ? [runner] : []);
    runner.subscription = this.store
      .subscribeAll({ fromPosition: runner.checkpoint + 1n })
      .subscribe({
        next: (event) => this.receive(feed, event, alone),
        error: (error: unknown) => {
          if (runner.state !== 'running') return;
          runner.state = 'failed';
          this.log.error('projection subscription failed', {
            projection: runner.projection.name,
            error,
          });
        },
      });
  }

  /**
   * Buffers an event of `feed`; the buffer becomes a batch when it is full
   * or at the end of this event-loop turn, and is applied to the runners
   * `recipients` names at that moment.
   */
  private receive(
    feed: Feed,
    event: RecordedEvent,
    recipients: () => Runner[],
  ): void {
    feed.buffer.push(event);
    if (feed.buffer.length >= this.batchSize) {
      this.enqueueBatch(feed, recipients);
    } else if (!feed.flushScheduled) {
      feed.flushScheduled = true;
      setImmediate(() => this.enqueueBatch(feed, recipients));
    }
  }

  private enqueueBatch(feed: Feed, recipients: () => Runner[]): void {
    feed.flushScheduled = false;
    if (feed.buffer.length === 0) return;
    const batch = feed.buffer;
    feed.buffer = [];
    feed.work = feed.work.then(() => this.apply(recipients(), batch));
    // A rebuild waits on a runner's work before taking it over.
    for (const runner of recipients()) runner.work = feed.work;
  }

  /**
   * Folds one batch into each runner and commits them all in one
   * transaction, each inside a savepoint of its own: a projection whose
   * fold or flush throws stops alone. Never rejects.
   */
  private async apply(
    runners: Runner[],
    batch: RecordedEvent[],
    attempt = 0,
  ): Promise<void> {
    const folded: {
      runner: Runner;
      last: bigint;
      lastEvent: RecordedEvent;
      changed: boolean;
    }[] = [];
    for (const runner of runners) {
      if (runner.state !== 'running') continue;
      const result = this.fold(runner, batch);
      if (result) folded.push({ runner, ...result });
    }
    if (folded.length === 0) return;

    const ready: typeof folded = [];
    await Promise.all(
      folded.map(async (entry) => {
        try {
          await entry.runner.projection.beforeCommit?.();
          ready.push(entry);
        } catch (error) {
          this.fail(entry.runner, batch[batch.length - 1], error);
        }
      }),
    );

    const failures = new Map<Runner, unknown>();
    try {
      // IMMEDIATE: the write lock is taken at BEGIN, so another
      // connection holding it shows as busy here, for the whole batch,
      // rather than as the failure of whichever projection wrote first.
      this.db
        .transaction(() => {
          for (const { runner, last, lastEvent } of ready) {
            try {
              this.db.transaction(() => {
                runner.projection.flush(this.db);
                writeCheckpoint(
                  this.db,
                  runner.projection.name,
                  last,
                  lastEvent,
                );
              })();
            } catch (error) {
              failures.set(runner, error);
            }
          }
        })
        .immediate();
    } catch (error) {
      if (isBusy(error)) return this.retryLater(ready, batch, attempt, error);
      // The commit itself failed: nothing of this batch is stored.
      for (const { runner } of ready) failures.set(runner, error);
    }

    for (const { runner, last, changed } of ready) {
      if (failures.has(runner)) {
        this.fail(runner, batch[batch.length - 1], failures.get(runner));
        continue;
      }
      runner.checkpoint = last;
      this.committedBatches += 1;
      if (changed) {
        this.changes.next({
          projection: runner.projection.name,
          checkpoint: last,
        });
      }
    }
    this.advanced.next();
  }

  /**
   * The read-model file stayed locked by another connection past the busy
   * timeout: nothing of the batch was written. Forget what the folds did
   * in memory and apply the batch again after a pause, growing to 5 s.
   */
  private async retryLater(
    entries: { runner: Runner }[],
    batch: RecordedEvent[],
    attempt: number,
    error: unknown,
  ): Promise<void> {
    const delayMs = Math.min(5_000, 100 * 2 ** attempt);
    this.log.error('read-model database busy; retrying the batch', {
      projections: entries.map((e) => e.runner.projection.name),
      lastPosition: batch[batch.length - 1].globalPosition,
      attempt: attempt + 1,
      delayMs,
      error: error instanceof Error ? error.message : String(error),
    });
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    const runners = entries.map((e) => e.runner);
    for (const runner of runners) runner.projection.load(this.db);
    return this.apply(runners, batch, attempt + 1);
  }

  /**
   * Folds the events of `batch` past the runner's checkpoint into memory.
   * Returns the new last position, or null when there was nothing new or
   * the fold threw (the runner is then stopped).
   */
  private fold(
    runner: Runner,
    batch: RecordedEvent[],
  ): { last: bigint; lastEvent: RecordedEvent; changed: boolean } | null {
    let last = runner.checkpoint;
    let lastEvent: RecordedEvent | undefined;
    let changed = false;
    for (const event of batch) {
      if (event.globalPosition <= last) continue;
      try {
        changed = runner.projection.fold(event) || changed;
      } catch (error) {
        this.fail(runner, event, error);
        return null;
      }
      last = event.globalPosition;
      lastEvent = event;
    }
    return lastEvent ? { last, lastEvent, changed } : null;
  }

  private fail(runner: Runner, event: RecordedEvent, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.failedBatches += 1;
    runner.state = 'failed';
    runner.failure = {
      globalPosition: event.globalPosition,
      type: event.type,
      message,
    };
    runner.subscription?.unsubscribe();
    // The fold may have half-applied the batch: go back to what is stored.
    runner.projection.load(this.db);
    this.log.error(
      `projection ${runner.projection.name} stopped at event ` +
        `${event.globalPosition} (${event.type}): ${message}`,
      {
        projection: runner.projection.name,
        globalPosition: event.globalPosition,
        eventType: event.type,
        checkpoint: runner.checkpoint,
      },
    );
    this.advanced.next();
  }

  /** Checkpoint and state of every projection. */
  statuses(): ProjectionStatus[] {
    return [...this.runners.values()].map((r) => ({
      name: r.projection.name,
      checkpoint: r.checkpoint,
      state: r.state,
      ...(r.failure ? { failure: r.failure } : {}),
    }));
  }

  /** Batches committed and batches that failed since start. */
  counters(): BatchCounters {
    return {
      committedBatches: this.committedBatches,
      failedBatches: this.failedBatches,
    };
  }

  /** Checkpoint of one projection. */
  checkpoint(name: string): bigint {
    return this.runner(name).checkpoint;
  }

  private runner(name: string): Runner {
    const runner = this.runners.get(name);
    if (!runner) throw new Error(`no projection named '${name}'`);
    return runner;
  }

  lowestCheckpoint(names: readonly string[] = this.names()): bigint {
    return lowestCheckpointOf(names, (name) => this.checkpoint(name));
  }

  waitFor(
    position: bigint,
    timeoutMs: number,
    names: readonly string[] = this.names(),
  ): Promise<boolean> {
    return waitForProjections(
      () => this.statuses(),
      this.advanced,
      position,
      timeoutMs,
      names,
    );
  }

  /**
   * Drops the read model of `name` (default: every projection) and folds
   * it again from position 1; resolves when it has caught up with the
   * store's head as of the call. Restarts a failed projection too.
   */
  async rebuild(name?: string): Promise<void> {
    const targets = name === undefined ? this.names() : [name];
    for (const target of targets) {
      const runner = this.runner(target);
      runner.state = 'stopped';
      runner.subscription?.unsubscribe();
      await runner.work;
      this.resetRunner(target, runner);
      this.subscribe(runner);
    }
    const head = await this.store.headPosition();
    const reached = await this.waitFor(head, 10 * 60_000, targets);
    if (!reached) throw new Error(`rebuild of ${targets.join(', ')} failed`);
    this.log.info('projections rebuilt', { projections: targets, head });
  }

  /**
   * Unsubscribes everything and waits for the batch being applied; events
   * received but not yet committed are folded again on the next start.
   */
  async stop(): Promise<void> {
    this.sharedSubscription?.unsubscribe();
    for (const runner of this.runners.values()) {
      if (runner.state === 'running') runner.state = 'stopped';
      runner.subscription?.unsubscribe();
    }
    await Promise.all([...this.runners.values()].map((r) => r.work));
  }
}

/** SQLite's answer when another connection holds the lock too long. */
const isBusy = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
};
