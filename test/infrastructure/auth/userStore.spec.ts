import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  addUser,
  ensureInitialAdmin,
  readUsers,
  verifyUser,
} from '../../../infrastructure/auth';
import { tempDir } from '../../support/tempDirs';

const freshFile = async () => join(tempDir('users'), 'config', 'users.json');

describe('userStore', () => {
  it('stores only an scrypt hash, in a file of mode 0600', async () => {
    const file = await freshFile();
    await addUser(file, 'alice', 'correct horse battery', 'trader');

    const text = await readFile(file, 'utf8');
    expect(text).to.not.include('correct horse battery');
    const [alice] = JSON.parse(text).users;
    expect(alice.username).to.equal('alice');
    expect(alice.role).to.equal('trader');
    expect(alice.passwordHash).to.match(
      /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/,
    );
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
  });

  it('verifies the right password and refuses others', async () => {
    const file = await freshFile();
    await addUser(file, 'bob', 'right-password', 'viewer');

    expect(await verifyUser(file, 'bob', 'right-password')).to.deep.equal({
      username: 'bob',
      role: 'viewer',
    });
    expect(await verifyUser(file, 'bob', 'wrong-password')).to.equal(undefined);
    expect(await verifyUser(file, 'nobody', 'x')).to.equal(undefined);
  });

  it('salts each hash, so equal passwords hash differently', async () => {
    const file = await freshFile();
    await Promise.all([
      addUser(file, 'a', 'same-password', 'viewer'),
      addUser(file, 'b', 'same-password', 'viewer'),
    ]);
    const [a, b] = await readUsers(file);
    expect(a.passwordHash).to.not.equal(b.passwordHash);
  });

  it('refuses a duplicate user, a bad name, a short password', async () => {
    const file = await freshFile();
    await addUser(file, 'carol', 'long-enough', 'admin');

    const failures = [
      addUser(file, 'carol', 'long-enough', 'admin'),
      addUser(file, 'bad name', 'long-enough', 'admin'),
      addUser(file, 'dave', 'short', 'admin'),
    ].map((attempt) =>
      attempt.then(
        () => 'ok',
        (e) => e.code,
      ),
    );
    expect(await Promise.all(failures)).to.deep.equal([
      'CONFLICT',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
    ]);
  });

  describe('ensureInitialAdmin', () => {
    it('creates admin with a random password it returns once', async () => {
      const file = await freshFile();
      const logged: unknown[] = [];
      const result = await ensureInitialAdmin({
        file,
        env: {},
        log: (message, fields) => logged.push({ message, ...fields }),
      });

      expect(result.created).to.equal(true);
      expect(result.source).to.equal('generated');
      const password = result.generatedPassword!;
      expect(password).to.have.length(24);
      expect(await readFile(file, 'utf8')).to.not.include(password);
      expect(JSON.stringify(logged)).to.not.include(password);
      expect(await verifyUser(file, 'admin', password)).to.deep.equal({
        username: 'admin',
        role: 'admin',
      });
    });

    it('uses MIRAI_ADMIN_PASSWORD when set; returns none', async () => {
      const file = await freshFile();
      const env = { MIRAI_ADMIN_PASSWORD: 'from-the-environment' };
      const result = await ensureInitialAdmin({ file, env });

      expect(result).to.deep.equal({ created: true, source: 'env' });
      expect(await readFile(file, 'utf8')).to.not.include(
        'from-the-environment',
      );
      expect(
        await verifyUser(file, 'admin', 'from-the-environment'),
      ).to.not.equal(undefined);
      expect((await stat(file)).mode & 0o777).to.equal(0o600);
    });

    it('does nothing once users exist', async () => {
      const file = await freshFile();
      await addUser(file, 'erin', 'long-enough', 'viewer');
      const before = await readFile(file, 'utf8');

      const result = await ensureInitialAdmin({
        file,
        env: { MIRAI_ADMIN_PASSWORD: 'ignored-now-1' },
      });

      expect(result).to.deep.equal({ created: false });
      expect(await readFile(file, 'utf8')).to.equal(before);
    });
  });
});
