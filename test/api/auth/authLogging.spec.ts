import { expect } from 'chai';
import type { Logger } from '../../../infrastructure/logging/logger';
import { ADMIN_PASSWORD, startTestServer } from '../../support/testServer';
import { tempDir } from '../../support/tempDirs';

describe('login logging through the real server', () => {
  it('logs a login at info and a failed one as a warning, never the password', async () => {
    const lines: { level: string; msg: string; fields?: object }[] = [];
    const capture = (level: string) => (msg: string, fields?: object) =>
      lines.push({ level, msg, fields });
    const logger: Logger = {
      info: capture('info'),
      warn: capture('warn'),
      error: capture('error'),
    };
    const server = await startTestServer({ logger, dataDir: tempDir('log') });
    try {
      const login = (password: string) =>
        fetch(`${server.url}/auth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password }),
        });
      lines.length = 0;
      expect((await login(ADMIN_PASSWORD)).status).to.equal(200);
      expect((await login('wrong-password')).status).to.equal(401);

      const auth = lines.filter((line) => line.msg.startsWith('login'));
      expect(auth.map(({ level, msg }) => [level, msg])).to.deep.equal([
        ['info', 'login'],
        ['warn', 'login failed'],
      ]);
      expect(JSON.stringify(lines)).not.to.include(ADMIN_PASSWORD);
    } finally {
      await server.running.close();
    }
  });
});
