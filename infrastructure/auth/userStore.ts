import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { MiraiError } from '../../domain/errors';
import { hashPassword, verifyPassword } from './passwordHash';
import { writeFileAtomic } from './secureFile';
import { type AuthenticatedUser, isRole, type Role } from './roles';

/** One user as the users file stores it: never a plaintext password. */
export interface StoredUser {
  readonly username: string;
  readonly role: Role;
  /** `scrypt$N$r$p$salt$hash`, see `hashPassword`. */
  readonly passwordHash: string;
}

/** A structured log line: a message plus fields worth searching for. */
export type Log = (message: string, fields?: Record<string, unknown>) => void;

/** Letters, digits, `.`, `_` and `-`; 1 to 64 characters. */
const USERNAME = /^[A-Za-z0-9._-]{1,64}$/;

/** Shortest password {@link addUser} accepts, in characters. */
export const MIN_PASSWORD_LENGTH = 8;

const MAX_PASSWORD_LENGTH = 1024;

/** A malformed field, in the documented form: `details.errors` names it. */
const invalid = (field: string, message: string) =>
  new MiraiError('INVALID_REQUEST', message, {
    errors: [{ field, problem: message }],
  });

const parseUsers = (text: string, file: string): StoredUser[] => {
  const data = JSON.parse(text) as { users?: unknown };
  if (!data || !Array.isArray(data.users)) {
    throw new Error(`${file}: expected {"users": [...]}`);
  }
  return data.users.map((entry: Partial<StoredUser>, index: number) => {
    const ok =
      typeof entry?.username === 'string' &&
      USERNAME.test(entry.username) &&
      isRole(entry.role) &&
      typeof entry.passwordHash === 'string';
    if (!ok) throw new Error(`${file}: user ${index} is malformed`);
    const { username, role, passwordHash } = entry as StoredUser;
    return { username, role, passwordHash };
  });
};

/**
 * Reads every user in the users file, a JSON document
 * `{"users": [{"username", "role", "passwordHash"}]}`. A missing file
 * holds no users; a malformed one throws, so a server does not start with
 * a users file it misreads.
 */
export const readUsers = async (file: string): Promise<StoredUser[]> => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return parseUsers(text, file);
};

const writeUsers = (file: string, users: StoredUser[]) =>
  writeFileAtomic(file, `${JSON.stringify({ users }, null, 2)}\n`);

// Writers in this process queue up per file so that two additions do not
// read the same old list and lose one another. Separate processes (the
// CLI while a server runs) are not coordinated: the last rename wins.
const writeQueues = new Map<string, Promise<unknown>>();

const queued = <T>(file: string, task: () => Promise<T>): Promise<T> => {
  const previous = writeQueues.get(file) ?? Promise.resolve();
  const next = previous.then(task, task);
  writeQueues.set(
    file,
    next.catch(() => undefined),
  );
  return next;
};

const addUnqueued = async (
  file: string,
  username: string,
  password: string,
  role: Role,
): Promise<void> => {
  if (!USERNAME.test(username)) {
    throw invalid(
      'username',
      'Username must be 1-64 letters, digits, ".", "_" or "-"',
    );
  }
  if (!isRole(role)) throw invalid('role', `Unknown role '${String(role)}'`);
  if (
    password.length < MIN_PASSWORD_LENGTH ||
    password.length > MAX_PASSWORD_LENGTH
  ) {
    throw invalid(
      'password',
      `Password must be ${MIN_PASSWORD_LENGTH}-${MAX_PASSWORD_LENGTH} ` +
        'characters',
    );
  }

  const users = await readUsers(file);
  if (users.some((user) => user.username === username)) {
    throw new MiraiError('CONFLICT', `User '${username}' already exists`);
  }

  const passwordHash = await hashPassword(password);
  await writeUsers(file, [...users, { username, role, passwordHash }]);
};

/**
 * Adds a user to the users file, storing only the scrypt hash of
 * `password`. The file is replaced atomically with mode 0600.
 *
 * @throws MiraiError `INVALID_REQUEST` for a bad username, role or a
 *   password shorter than {@link MIN_PASSWORD_LENGTH}; `CONFLICT` when the
 *   user exists.
 */
export const addUser = (
  file: string,
  username: string,
  password: string,
  role: Role,
): Promise<void> =>
  queued(file, () => addUnqueued(file, username, password, role));

/** The user named `username`, without its hash, or undefined. */
export const findUser = async (
  file: string,
  username: string,
): Promise<AuthenticatedUser | undefined> => {
  const user = (await readUsers(file)).find((u) => u.username === username);
  return user && { username: user.username, role: user.role };
};

// Hashed once on first use: checking an unknown user against it costs as
// much as a real check, so response time does not reveal who exists.
let dummyHash: Promise<string> | undefined;

/**
 * The user when `password` is theirs, else undefined. An unknown user
 * costs one scrypt like a known one, so timing does not tell them apart.
 * The file is read on every call, so users added by the CLI count at once.
 */
export const verifyUser = async (
  file: string,
  username: string,
  password: string,
): Promise<AuthenticatedUser | undefined> => {
  const user = (await readUsers(file)).find((u) => u.username === username);
  if (!user) {
    dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    await verifyPassword(password, await dummyHash);
    return undefined;
  }
  const matches = await verifyPassword(password, user.passwordHash);
  return matches ? { username: user.username, role: user.role } : undefined;
};

/** What {@link ensureInitialAdmin} did. */
export interface InitialAdmin {
  /** False when the users file already held users: nothing changed. */
  readonly created: boolean;
  /** Where the password came from when `created`. */
  readonly source?: 'env' | 'generated';
  /**
   * The generated password, present only when Mirai made one up. The
   * caller prints it once; it is stored nowhere else.
   */
  readonly generatedPassword?: string;
}

/** Options of {@link ensureInitialAdmin}. */
export interface EnsureInitialAdminOptions {
  /** The users file. */
  readonly file: string;
  /** Where `MIRAI_ADMIN_PASSWORD` is read; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Told that an admin was created (never the password). */
  readonly log?: Log;
}

/**
 * On a first start (no users), creates the user `admin` with role
 * `admin`. Its password is `MIRAI_ADMIN_PASSWORD` when set (at least
 * {@link MIN_PASSWORD_LENGTH} characters), else 24 random characters that
 * are returned for the caller to print once. Only the hash is stored.
 * Once any user exists this does nothing, and the variable is ignored.
 */
export const ensureInitialAdmin = ({
  file,
  env = process.env,
  log,
}: EnsureInitialAdminOptions): Promise<InitialAdmin> =>
  queued(file, async () => {
    if ((await readUsers(file)).length > 0) return { created: false };

    const fromEnv = env.MIRAI_ADMIN_PASSWORD;
    const password = fromEnv || randomBytes(18).toString('base64url');
    const source = fromEnv ? 'env' : 'generated';
    await addUnqueued(file, 'admin', password, 'admin');

    log?.('initial admin user created', { username: 'admin', source, file });
    return source === 'env'
      ? { created: true, source }
      : { created: true, source, generatedPassword: password };
  });
