import { chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadSigningSecret } from '../../../infrastructure/auth';
import { tempDir } from '../../support/tempDirs';

const freshFile = async () => join(tempDir('secret'), 'jwt-secret');

describe('loadSigningSecret', () => {
  it('generates 32 bytes into a 0600 file and reuses them', async () => {
    const file = await freshFile();
    const first = await loadSigningSecret({ file, env: {} });

    expect(first).to.have.length(32);
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    expect(await loadSigningSecret({ file, env: {} })).to.deep.equal(first);
  });

  it('tightens a stored secret file that others could read', async () => {
    const file = await freshFile();
    await loadSigningSecret({ file, env: {} });
    await chmod(file, 0o644);

    await loadSigningSecret({ file, env: {} });
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
  });

  it('prefers MIRAI_JWT_SECRET and writes no file', async () => {
    const file = await freshFile();
    const value = 'a'.repeat(40);
    const secret = await loadSigningSecret({
      file,
      env: { MIRAI_JWT_SECRET: value },
    });

    expect(secret.toString()).to.equal(value);
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    expect(exists).to.equal(false);
  });

  it('refuses a MIRAI_JWT_SECRET shorter than 32 bytes', async () => {
    const file = await freshFile();
    const attempt = loadSigningSecret({ file, env: { MIRAI_JWT_SECRET: 'x' } });
    expect(
      await attempt.then(
        () => 'ok',
        (e: Error) => e.message,
      ),
    ).to.match(/at least 32 bytes/);
  });
});
