import { expect } from 'chai';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  DataDirInUseError,
  lockDataDir,
} from '../../infrastructure/dataDirLock';
import { tempDir } from '../support/tempDirs';

/** Another process holding the lock until it is killed. */
const holdInChild = async (dir: string): Promise<ChildProcess> => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `const { lockDataDir } = require(${JSON.stringify(
        path.resolve(__dirname, '../../infrastructure/dataDirLock'),
      )});
       globalThis.held = lockDataDir(${JSON.stringify(dir)});
       console.log('held');
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('held')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
  return child;
};

describe('data folder lock', () => {
  const folder = () => tempDir('lock');

  it('lets one holder in at a time, and the next one after a release', () => {
    const dir = folder();
    const first = lockDataDir(dir);
    expect(() => lockDataDir(dir)).to.throw(
      DataDirInUseError,
      `process ${process.pid}`,
    );
    first.release();
    expect(existsSync(path.join(dir, 'mirai.lock.json'))).to.equal(false);
    const second = lockDataDir(dir);
    first.release(); // a second release must not free the new holder's lock
    expect(() => lockDataDir(dir)).to.throw(DataDirInUseError);
    second.release();
  });

  it('refuses while another process holds it, and is free the moment that process is killed', async () => {
    const dir = folder();
    const child = await holdInChild(dir);
    try {
      expect(() => lockDataDir(dir)).to.throw(
        DataDirInUseError,
        `process ${child.pid}`,
      );
    } finally {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
    // No stale lock is left to take over: the system dropped it.
    lockDataDir(dir).release();
  });

  it('replaces a lock file that is not one (an older format, say)', () => {
    const dir = folder();
    writeFileSync(path.join(dir, 'mirai.lock'), '{"pid": 12, "host": "x"}');
    lockDataDir(dir).release();
  });
});
