import { expect } from 'chai';
import { rebuildReadModels, startMirai } from '../../server';
import { DataDirInUseError } from '../../infrastructure/dataDirLock';
import { silentLogger } from '../../infrastructure/logging/logger';
import { startTestServer, tempDataDir } from '../support/testServer';

// Two engines on one account stream can each have appends in flight that
// a revision check alone does not stop, breaking the hash chain and
// deciding orders on states that never existed: one server per folder.
describe('one server per data folder (e2e)', () => {
  it('refuses a second server and a rebuild while one runs, and lets them in after it stops', async () => {
    const dataDir = tempDataDir();
    const first = await startTestServer({ dataDir, store: 'sqlite' });
    try {
      let refused: unknown;
      try {
        await startMirai({
          dataDir,
          port: 0,
          logger: silentLogger,
          feed: { kind: 'none' },
        });
      } catch (error) {
        refused = error;
      }
      expect(refused).to.be.instanceOf(DataDirInUseError);
      let rebuildRefused: unknown;
      try {
        await rebuildReadModels({ dataDir, logger: silentLogger });
      } catch (error) {
        rebuildRefused = error;
      }
      expect(rebuildRefused).to.be.instanceOf(DataDirInUseError);
      // The first server was not disturbed.
      const health = await first.call('GET', '/api/health');
      expect(health.status).to.equal(200);
    } finally {
      await first.running.close();
    }
    const rebuilt = await rebuildReadModels({ dataDir, logger: silentLogger });
    expect(rebuilt.projections).to.have.length(9);
    const second = await startTestServer({ dataDir, store: 'sqlite' });
    expect((await second.call('GET', '/api/health')).status).to.equal(200);
    await second.running.close();
  });

  it('lets a memory store share a folder: nothing in it is shared', async () => {
    const dataDir = tempDataDir();
    const a = await startTestServer({ dataDir, store: 'memory' });
    const b = await startTestServer({ dataDir, store: 'memory' });
    await a.running.close();
    await b.running.close();
  });
});
