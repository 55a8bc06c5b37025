import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/**
 * A fresh folder under the OS temp folder, `mirai-<name>-XXXXXX`, deleted
 * when the whole test run ends (the root hook below; `.mocharc.json`
 * loads this file).
 */
export const tempDir = (name: string): string => {
  const dir = mkdtempSync(join(tmpdir(), `mirai-${name}-`));
  made.push(dir);
  return dir;
};

/** Mocha root hooks: delete every folder `tempDir` made. */
export const mochaHooks = {
  afterAll(): void {
    for (const dir of made.splice(0)) {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
