import type { Worker } from 'node:worker_threads';
import { Observable, Subject, Subscription } from 'rxjs';
import { startThread } from '../infrastructure/threads/startThread';
import type { ProjectionSetOptions } from './createProjections';
import type { ProjectionStatus } from './projection';
import type { ProjectionLog } from './projectionRuntime';
import {
  BatchCounters,
  lowestCheckpointOf,
  ReadModelChange,
  ReadModelRuntime,
  waitForProjections,
} from './readModelRuntime';

/** What the projection thread is started with; plain data only. */
export interface ProjectionThreadSettings {
  /** The SQLite event store file, opened again by the thread. */
  eventsPath: string;
  /** The read-model database file. */
  readModelsPath: string;
  /** fsync policy of the thread's own appends (alerts); default `full`. */
  durability?: 'full' | 'normal';
  /** Account and alert rules of the projections. */
  projections?: ProjectionSetOptions;
  /** Most events folded per transaction; default the runtime's. */
  batchSize?: number;
}

/** Messages from the projection thread to its host. */
export type ThreadMessage =
  | {
      kind: 'ready' | 'progress';
      statuses: ProjectionStatus[];
      counters: BatchCounters;
      changes: ReadModelChange[];
    }
  | {
      kind: 'log';
      level: 'info' | 'error';
      message: string;
      fields?: Record<string, unknown>;
    }
  | { kind: 'stopped' };

/** Messages from the host to its projection thread. */
export type HostMessage = { kind: 'wake' } | { kind: 'stop' };

/** Options of {@link ProjectionWorker.start}. */
export interface ProjectionWorkerOptions extends ProjectionThreadSettings {
  /**
   * Fires after each commit of this process's store, so the thread reads
   * the new events at once instead of at its next poll.
   */
  commits: Observable<unknown>;
  /**
   * Least time between two wake-ups while a read waits for the read
   * models, ms; default 10. A commit after a quiet spell wakes the thread
   * at once; commits closer together share one wake-up.
   */
  wakeIntervalMs?: number;
  /**
   * Least time between two wake-ups under a stream of commits that no
   * read is waiting for, ms; default 100. The thread then folds larger
   * batches, less often: less of the machine goes to keeping read models
   * fresh that nobody reads. A read that needs newer events than the
   * read models hold brings the next wake-up forward.
   */
  unreadWakeIntervalMs?: number;
  log?: ProjectionLog;
}

/** See {@link ProjectionWorkerOptions.wakeIntervalMs}. */
export const DEFAULT_WAKE_INTERVAL_MS = 10;
/** See {@link ProjectionWorkerOptions.unreadWakeIntervalMs}. */
export const DEFAULT_UNREAD_WAKE_INTERVAL_MS = 100;

const quiet: ProjectionLog = { info: () => undefined, error: () => undefined };

/**
 * Keeps the read models live on a worker thread of their own: the thread
 * opens the SQLite event store and read-model files itself and runs a
 * `ProjectionRuntime` over them, so folding and read-model commits take no
 * time from the thread that answers HTTP. The host mirrors the thread's
 * checkpoints, which is all `waitFor`, lag reports and cache invalidation
 * need; queries read the read-model file through a connection of their
 * own.
 *
 * If the thread dies, every projection is reported `failed` with the
 * reason, reads stop waiting for it, and the log says why.
 */
export class ProjectionWorker implements ReadModelRuntime {
  readonly changes = new Subject<ReadModelChange>();
  private readonly progress = new Subject<void>();
  private current: ProjectionStatus[] = [];
  private batches: BatchCounters = { committedBatches: 0, failedBatches: 0 };
  private readonly worker: Worker;
  private readonly log: ProjectionLog;
  private wakeUps?: Subscription;
  private lastWake = Number.NEGATIVE_INFINITY;
  private wakeTimer: NodeJS.Timeout | null = null;
  /** When the pending wake-up fires, `performance.now()` time. */
  private wakeDue = 0;
  private wakeIntervalMs = DEFAULT_WAKE_INTERVAL_MS;
  private stopped: Promise<void> | null = null;
  private exited = false;

  private constructor(options: ProjectionWorkerOptions) {
    this.log = options.log ?? quiet;
    const {
      commits: _commits,
      log: _log,
      wakeIntervalMs: _wakeIntervalMs,
      unreadWakeIntervalMs: _unreadWakeIntervalMs,
      ...settings
    } = options;
    this.worker = startThread(
      __filename,
      'projectionThread',
      settings satisfies ProjectionThreadSettings,
    );
  }

  /**
   * Starts the thread; resolves once every read model's tables exist and
   * its projections are subscribed, rejects if the thread cannot start.
   */
  static async start(
    options: ProjectionWorkerOptions,
  ): Promise<ProjectionWorker> {
    const host = new ProjectionWorker(options);
    await host.listen();
    host.wakeIntervalMs = options.wakeIntervalMs ?? DEFAULT_WAKE_INTERVAL_MS;
    const unread =
      options.unreadWakeIntervalMs ?? DEFAULT_UNREAD_WAKE_INTERVAL_MS;
    host.wakeUps = options.commits.subscribe(() => host.wakeSoon(unread));
    return host;
  }

  /**
   * Wakes the thread now, or once `interval` has passed since the last
   * wake-up; a wake-up already due sooner stands.
   */
  private wakeSoon(interval: number): void {
    const now = performance.now();
    const due = Math.max(now, this.lastWake + interval);
    if (this.wakeTimer) {
      if (this.wakeDue <= due) return;
      clearTimeout(this.wakeTimer);
      this.wakeTimer = null;
    }
    if (due <= now) return this.wake();
    this.wakeDue = due;
    this.wakeTimer = setTimeout(() => this.wake(), due - now);
  }

  private wake(): void {
    this.wakeTimer = null;
    this.lastWake = performance.now();
    this.post({ kind: 'wake' });
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      let ready = false;
      this.worker.on('message', (message: ThreadMessage) => {
        if (message.kind === 'ready') ready = true;
        this.receive(message);
        if (message.kind === 'ready') resolve();
      });
      this.worker.on('error', (error) => {
        if (!ready) return reject(error);
        this.threadDied(error.message);
      });
      this.worker.on('exit', (code) => {
        this.exited = true;
        if (!ready) {
          return reject(new Error(`projection thread exited with ${code}`));
        }
        if (!this.stopped) this.threadDied(`thread exited with code ${code}`);
      });
    });
  }

  private receive(message: ThreadMessage): void {
    switch (message.kind) {
      case 'ready':
      case 'progress':
        this.current = message.statuses;
        this.batches = message.counters;
        for (const change of message.changes) this.changes.next(change);
        this.progress.next();
        return;
      case 'log':
        this.log[message.level](message.message, message.fields);
        return;
      case 'stopped':
        return;
    }
  }

  private threadDied(reason: string): void {
    this.log.error(`projection thread stopped: ${reason}`, { reason });
    this.current = this.current.map((status) =>
      status.state === 'running'
        ? {
            ...status,
            state: 'failed',
            failure: {
              globalPosition: status.checkpoint,
              type: 'projection thread',
              message: reason,
            },
          }
        : status,
    );
    this.progress.next();
  }

  private post(message: HostMessage): void {
    if (!this.exited) this.worker.postMessage(message);
  }

  names(): string[] {
    return this.current.map((status) => status.name);
  }

  statuses(): ProjectionStatus[] {
    return this.current.map((status) => ({ ...status }));
  }

  counters(): BatchCounters {
    return { ...this.batches };
  }

  lowestCheckpoint(names: readonly string[] = this.names()): bigint {
    return lowestCheckpointOf(names, (name) => {
      const status = this.current.find((s) => s.name === name);
      if (!status) throw new Error(`no projection named '${name}'`);
      return status.checkpoint;
    });
  }

  waitFor(
    position: bigint,
    timeoutMs: number,
    names: readonly string[] = this.names(),
  ): Promise<boolean> {
    // Someone reads: newer events should be folded soon, not lazily.
    if (this.lowestCheckpoint(names) < position) {
      this.wakeSoon(this.wakeIntervalMs);
    }
    return waitForProjections(
      () => this.current,
      this.progress,
      position,
      timeoutMs,
      names,
    );
  }

  /**
   * Lets the thread finish the batch it is applying, close its files and
   * exit. Events not yet committed are folded again on the next start.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.wakeUps?.unsubscribe();
      if (this.wakeTimer) clearTimeout(this.wakeTimer);
      if (this.exited) return;
      const exited = new Promise<void>((resolve) =>
        this.worker.once('exit', () => resolve()),
      );
      this.post({ kind: 'stop' });
      await exited;
    })();
    return this.stopped;
  }
}
