import type { Worker } from 'node:worker_threads';
import { startThread } from '../threads/startThread';
import {
  AppendOutcome,
  EventsConnectionOptions,
  fromWriteFailure,
  SerializedAppend,
  WriteFailure,
} from './sqliteWriter';

/** What the writer thread is started with. */
export interface WriterThreadSettings {
  path: string;
  connection: EventsConnectionOptions;
}

/** Messages to the writer thread. */
export type WriterRequest =
  { kind: 'write'; batch: SerializedAppend[] } | { kind: 'close' };

/** Replies of the writer thread, one per `write`, in order. */
export type WriterReply =
  | { kind: 'written'; outcomes: AppendOutcome<WriteFailure>[] }
  | { kind: 'failed'; error: WriteFailure };

interface Waiting {
  resolve: (outcomes: AppendOutcome[]) => void;
  reject: (error: unknown) => void;
}

/**
 * A `SqliteWriter` on a thread of its own, so that inserting, committing
 * and fsyncing never stop the thread that answers HTTP. Writes are
 * answered in the order they were sent. The thread keeps the process
 * alive only while a write is in flight.
 */
export class SqliteWriterThread {
  private readonly worker: Worker;
  private readonly waiting: Waiting[] = [];
  private broken: Error | null = null;
  private closing = false;

  constructor(settings: WriterThreadSettings) {
    this.worker = startThread(__filename, 'sqliteWriterThreadEntry', settings);
    this.worker.unref();
    this.worker.on('message', (reply: WriterReply) => this.settle(reply));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => {
      if (!this.closing) {
        this.fail(new Error(`event store writer thread exited (${code})`));
      }
    });
  }

  /** Commits `batch` on the thread; see `SqliteWriter.write`. */
  write(batch: SerializedAppend[]): Promise<AppendOutcome[]> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      if (this.waiting.length === 0) this.worker.ref();
      this.waiting.push({ resolve, reject });
      this.worker.postMessage({ kind: 'write', batch } satisfies WriterRequest);
    });
  }

  /** Closes the thread's connection and waits for the thread to end. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.broken) return;
    const exited = new Promise<void>((resolve) =>
      this.worker.once('exit', () => resolve()),
    );
    this.worker.ref();
    this.worker.postMessage({ kind: 'close' } satisfies WriterRequest);
    await exited;
  }

  private settle(reply: WriterReply): void {
    const waiting = this.waiting.shift();
    if (this.waiting.length === 0) this.worker.unref();
    if (!waiting) return;
    if (reply.kind === 'failed') {
      waiting.reject(fromWriteFailure(reply.error));
      return;
    }
    waiting.resolve(
      reply.outcomes.map((outcome) =>
        outcome.ok
          ? outcome
          : { ok: false, error: fromWriteFailure(outcome.error) },
      ),
    );
  }

  /** The thread is gone: every write waiting or to come fails. */
  private fail(error: Error): void {
    this.broken ??= error;
    for (const waiting of this.waiting.splice(0)) waiting.reject(error);
  }
}
