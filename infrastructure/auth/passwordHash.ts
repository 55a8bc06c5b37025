import {
  randomBytes,
  scrypt,
  timingSafeEqual,
  type ScryptOptions,
} from 'node:crypto';

/** scrypt cost parameters; Node's defaults, about 16 MiB and 50 ms. */
const COST = { N: 16384, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

// Caps on parameters read from the users file, so that a damaged or
// tampered file cannot make one login allocate gigabytes.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

const deriveKey = (
  password: string,
  salt: Buffer,
  keyBytes: number,
  cost: { N: number; r: number; p: number },
): Promise<Buffer> => {
  const options: ScryptOptions = {
    ...cost,
    maxmem: 256 * cost.N * cost.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) =>
    scrypt(password, salt, keyBytes, options, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
};

/**
 * Hashes `password` with scrypt and a random 16-byte salt. The result
 * reads `scrypt$N$r$p$<salt>$<hash>` (salt and hash in base64), so the
 * cost can be raised later without breaking stored hashes.
 */
export const hashPassword = async (password: string): Promise<string> => {
  const salt = randomBytes(SALT_BYTES);
  const key = await deriveKey(password, salt, KEY_BYTES, COST);
  return [
    'scrypt',
    COST.N,
    COST.r,
    COST.p,
    salt.toString('base64'),
    key.toString('base64'),
  ].join('$');
};

const parse = (encoded: string) => {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], 'base64');
  const hash = Buffer.from(parts[5], 'base64');
  const powerOfTwo = Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0;
  const sane =
    powerOfTwo &&
    N <= MAX_N &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= MAX_R &&
    Number.isInteger(p) &&
    p >= 1 &&
    p <= MAX_P &&
    salt.length >= 8 &&
    hash.length >= 16;
  return sane ? { N, r, p, salt, hash } : undefined;
};

/**
 * True when `password` matches a hash made by {@link hashPassword}. The
 * comparison takes the same time wherever the bytes differ; a malformed
 * hash never matches.
 */
export const verifyPassword = async (
  password: string,
  encoded: string,
): Promise<boolean> => {
  const stored = parse(encoded);
  if (!stored) return false;
  const { salt, hash, ...cost } = stored;
  const key = await deriveKey(password, salt, hash.length, cost);
  return timingSafeEqual(key, hash);
};
