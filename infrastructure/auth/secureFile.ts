import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Replaces `file` with `contents` so that a reader sees either the old or
 * the new file, never half of one, and nobody but the owner can read it:
 * the data goes to a fresh temporary file (mode 0600) beside the target,
 * is flushed to disk, and is renamed over the target. A missing parent
 * folder is created with mode 0700.
 */
export const writeFileAtomic = async (
  file: string,
  contents: string,
): Promise<void> => {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;

  // 'wx' refuses to follow a planted file or symlink at the temporary name.
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(contents, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await handle.close();

  try {
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
};
