import { Observable, Subscription } from 'rxjs';
import type { ProjectionStatus } from './projection';

/** A committed batch that changed a read model. */
export interface ReadModelChange {
  projection: string;
  /** The projection's checkpoint after the batch. */
  checkpoint: bigint;
}

/** Batches committed and batches that failed since start. */
export interface BatchCounters {
  committedBatches: number;
  failedBatches: number;
}

/**
 * What the read side needs from whatever keeps the read models live: the
 * in-process `ProjectionRuntime`, or a `ProjectionWorker` running one on
 * a thread of its own.
 */
export interface ReadModelRuntime {
  /** Emits after each committed batch that changed a read model. */
  readonly changes: Observable<ReadModelChange>;
  /** Names of the projections, in the order they were given. */
  names(): string[];
  /** Checkpoint and state of every projection. */
  statuses(): ProjectionStatus[];
  counters(): BatchCounters;
  /** Lowest checkpoint among `names` (default: all). */
  lowestCheckpoint(names?: readonly string[]): bigint;
  /**
   * Resolves true once every projection in `names` (default all) has
   * committed `position`, false after `timeoutMs` or as soon as one of
   * them has stopped short of it.
   */
  waitFor(
    position: bigint,
    timeoutMs: number,
    names?: readonly string[],
  ): Promise<boolean>;
  /** Stops folding; what was committed stays. */
  stop(): Promise<void>;
}

/**
 * Lowest checkpoint of the named projections; 0n when none is named.
 * `checkpointOf` throws for an unknown name. Every read asks for this,
 * so it builds nothing.
 */
export const lowestCheckpointOf = (
  names: readonly string[],
  checkpointOf: (name: string) => bigint,
): bigint => {
  let lowest: bigint | null = null;
  for (const name of names) {
    const checkpoint = checkpointOf(name);
    if (lowest === null || checkpoint < lowest) lowest = checkpoint;
  }
  return lowest ?? 0n;
};

/**
 * The `waitFor` both runtimes share: checks `statuses` now and after each
 * `progress` emission until the named projections all reach `position`
 * (true), one of them is no longer running short of it (false), or
 * `timeoutMs` passes (false).
 */
export const waitForProjections = (
  statuses: () => readonly ProjectionStatus[],
  progress: Observable<unknown>,
  position: bigint,
  timeoutMs: number,
  names: readonly string[],
): Promise<boolean> => {
  const verdict = (): boolean | null => {
    const named = statuses().filter((s) => names.includes(s.name));
    if (named.length !== names.length) {
      throw new Error(`unknown projection among ${names.join(', ')}`);
    }
    if (named.every((s) => s.checkpoint >= position)) return true;
    if (named.some((s) => s.state !== 'running')) return false;
    return null;
  };
  const now = verdict();
  if (now !== null) return Promise.resolve(now);
  return new Promise((resolve) => {
    let subscription: Subscription | undefined;
    const done = (result: boolean) => {
      clearTimeout(timer);
      subscription?.unsubscribe();
      resolve(result);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    // A waiting reader must not keep a stopping process alive.
    timer.unref();
    subscription = progress.subscribe(() => {
      const result = verdict();
      if (result !== null) done(result);
    });
  });
};
