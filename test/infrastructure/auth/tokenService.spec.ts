import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { createTokenService } from '../../../infrastructure/auth';

const SECRET = 'unit-test-secret-unit-test-secret-123';
const alice = { username: 'alice', role: 'trader' as const };

describe('createTokenService', () => {
  let now = 1_700_000_000;
  const tokens = createTokenService({ secret: SECRET, now: () => now });

  it('signs HS256 tokens carrying sub, role, typ and the lifetimes', () => {
    const access = tokens.issue(alice, 'access');
    const refresh = tokens.issue(alice, 'refresh');

    const header = jwt.decode(access.token, { complete: true })!.header;
    expect(header.alg).to.equal('HS256');
    expect(jwt.decode(access.token)).to.include({
      sub: 'alice',
      role: 'trader',
      typ: 'access',
      iat: now,
      exp: now + 900,
    });
    expect(access.expiresIn).to.equal(900);
    expect(refresh.expiresIn).to.equal(30 * 24 * 3600);
    expect(jwt.decode(refresh.token)).to.include({ typ: 'refresh' });
  });

  it('accepts a token of its own type until it expires', () => {
    const { token } = tokens.issue(alice, 'access');
    expect(tokens.verify(token, 'access')).to.deep.equal(alice);

    now += 899;
    expect(tokens.verify(token, 'access')).to.deep.equal(alice);
    now += 1;
    expect(() => tokens.verify(token, 'access')).to.throw('Token expired');
  });

  it('refuses a token of the other type', () => {
    const access = tokens.issue(alice, 'access').token;
    const refresh = tokens.issue(alice, 'refresh').token;
    expect(() => tokens.verify(access, 'refresh')).to.throw('Invalid token');
    expect(() => tokens.verify(refresh, 'access')).to.throw('Invalid token');
  });

  it('refuses a token without an expiry', () => {
    const token = jwt.sign(
      { sub: 'alice', role: 'admin', typ: 'access', iss: 'mirai' },
      SECRET,
      { algorithm: 'HS256' },
    );
    expect(() => tokens.verify(token, 'access')).to.throw('Invalid token');
  });
});
