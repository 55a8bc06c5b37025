import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { MiraiError } from '../domain/errors';

/** Held while a process owns a data folder; see {@link lockDataDir}. */
export interface DataDirLock {
  readonly file: string;
  /** Gives the folder up; does nothing the second time. */
  release(): void;
}

/** Another live process (or this one) already holds the folder. */
export class DataDirInUseError extends MiraiError {
  constructor(
    readonly file: string,
    readonly holder: string,
  ) {
    super(
      'CONFLICT',
      `data folder is in use by ${holder} (lock ${file}); stop it first, ` +
        'or delete the lock file if no Mirai runs there',
      { lock: file, holder },
    );
    this.name = 'DataDirInUseError';
  }
}

const LOCK_FILE = 'mirai.lock';

interface LockContents {
  pid: number;
  host: string;
  since: string;
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const holderOf = (file: string): LockContents | null => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockContents;
  } catch {
    return null; // being written, or torn: who holds it is unknown
  }
};

/**
 * Makes this process the only one writing to `dir`: one engine per
 * account stream is what keeps its decisions and its hash chain sound.
 * Two engines appending to one stream can each pipeline appends that a
 * revision check alone does not stop (the other one may have moved the
 * stream to exactly the revision expected), so a second server, or a
 * rebuild while one runs, is refused with {@link DataDirInUseError}.
 *
 * The lock is a file created exclusively, holding the owner's pid and
 * host. A lock left by a process of this machine that died is taken over;
 * any other is respected.
 */
export const lockDataDir = (dir: string): DataDirLock => {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = holderOf(file);
      // Only a process of this machine can be seen to be gone.
      const gone =
        holder !== null && holder.host === hostname() && !isAlive(holder.pid);
      if (!gone || attempt > 0) {
        throw new DataDirInUseError(
          file,
          holder
            ? `process ${holder.pid} on ${holder.host} since ${holder.since}`
            : 'another process',
        );
      }
      unlinkSync(file); // left by a process that died
      continue;
    }
    const contents: LockContents = {
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
    };
    writeSync(fd, JSON.stringify(contents));
    closeSync(fd);
    let released = false;
    return {
      file,
      release: () => {
        if (released) return;
        released = true;
        if (holderOf(file)?.pid === process.pid) unlinkSync(file);
      },
    };
  }
};
