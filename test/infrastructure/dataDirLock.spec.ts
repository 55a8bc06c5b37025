import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import {
  DataDirInUseError,
  lockDataDir,
} from '../../infrastructure/dataDirLock';

describe('data folder lock', () => {
  const folder = () => mkdtempSync(path.join(tmpdir(), 'mirai-lock-'));
  const lockFile = (dir: string) => path.join(dir, 'mirai.lock');
  const writeLock = (dir: string, holder: object | string) =>
    writeFileSync(
      lockFile(dir),
      typeof holder === 'string' ? holder : JSON.stringify(holder),
    );

  it('lets one holder in at a time, and the next one after a release', () => {
    const dir = folder();
    const first = lockDataDir(dir);
    expect(() => lockDataDir(dir)).to.throw(
      DataDirInUseError,
      `process ${process.pid}`,
    );
    first.release();
    expect(existsSync(lockFile(dir))).to.equal(false);
    const second = lockDataDir(dir);
    first.release(); // a second release must not free the new holder's lock
    expect(() => lockDataDir(dir)).to.throw(DataDirInUseError);
    second.release();
  });

  it('takes over a lock left by a process of this machine that has died', () => {
    const dir = folder();
    const child = spawnSync(process.execPath, ['-e', '0']);
    writeLock(dir, { pid: child.pid, host: hostname(), since: 'earlier' });
    const lock = lockDataDir(dir);
    expect(JSON.parse(readFileSync(lock.file, 'utf8')).pid).to.equal(
      process.pid,
    );
    lock.release();
  });

  it('respects a lock held on another machine, or one it cannot read', () => {
    const elsewhere = folder();
    writeLock(elsewhere, { pid: 1, host: 'other-host', since: 'earlier' });
    expect(() => lockDataDir(elsewhere)).to.throw(
      DataDirInUseError,
      'other-host',
    );
    const torn = folder();
    writeLock(torn, '{"pid": 12');
    expect(() => lockDataDir(torn)).to.throw(
      DataDirInUseError,
      'another process',
    );
  });
});
