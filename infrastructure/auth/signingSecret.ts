import { randomBytes } from 'node:crypto';
import { chmod, readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from './secureFile';

/** Shortest secret accepted from the environment, in bytes (256 bits). */
export const MIN_SECRET_BYTES = 32;

/** Options of {@link loadSigningSecret}. */
export interface SigningSecretOptions {
  /** Where a generated secret is kept (hex, mode 0600). */
  readonly file: string;
  /** Where `MIRAI_JWT_SECRET` is read; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Told where the secret came from (never the secret). */
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * The key that signs and checks tokens. `MIRAI_JWT_SECRET` wins when set
 * (at least {@link MIN_SECRET_BYTES} bytes, else this throws). Otherwise
 * the secret in `file` is reused, so tokens survive a restart; when there
 * is none, 32 random bytes are generated and written there with mode
 * 0600. Deleting the file revokes every token at the next start.
 */
export const loadSigningSecret = async ({
  file,
  env = process.env,
  log,
}: SigningSecretOptions): Promise<Buffer> => {
  const fromEnv = env.MIRAI_JWT_SECRET;
  if (fromEnv !== undefined && fromEnv !== '') {
    const secret = Buffer.from(fromEnv, 'utf8');
    if (secret.length < MIN_SECRET_BYTES) {
      throw new Error(
        `MIRAI_JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes`,
      );
    }
    log?.('jwt signing secret loaded', { source: 'env' });
    return secret;
  }

  const stored = await readStoredSecret(file);
  if (stored) {
    log?.('jwt signing secret loaded', { source: 'file', file });
    return stored;
  }

  const secret = randomBytes(32);
  await writeFileAtomic(file, `${secret.toString('hex')}\n`);
  log?.('jwt signing secret generated', { source: 'generated', file });
  return secret;
};

const readStoredSecret = async (file: string) => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }

  // A copy or restore may have widened the mode; others must not read it.
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);

  const secret = Buffer.from(text.trim(), 'hex');
  if (secret.length < MIN_SECRET_BYTES) {
    throw new Error(`${file}: signing secret is damaged or too short`);
  }
  return secret;
};
