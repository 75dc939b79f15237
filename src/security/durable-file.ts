import { randomUUID } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';

/**
 * Small files written so that a crash or a power loss leaves the old content or the new, never a
 * torn file: the content goes to a temporary file beside the target, which is flushed; the caller
 * moves it into place (`rename` to replace, `link` to create only once) and then flushes the
 * directory ({@link syncDirectory}) so the new entry survives. Used by the node key file and by the
 * agent's membership generation file.
 */

/** The `code` of a Node.js system error (`ENOENT`, `EEXIST`, ...), if it has one. */
export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

/**
 * Writes `contents` to a new file of mode 0600 beside `path` (its directory must exist) and flushes
 * it; returns the temporary file's path, which the caller moves into place or unlinks.
 *
 * @throws the file system's error; a temporary file that could not be written whole is removed
 */
export async function writeSyncedTemporary(path: string, contents: string): Promise<string> {
  const temporary = `${path}.${process.pid}.${randomUUID()}.tmp`;
  const file = await open(temporary, 'wx', 0o600);
  try {
    try {
      await file.writeFile(contents);
      await file.sync();
    } finally {
      await file.close();
    }
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    throw err;
  }
  return temporary;
}

/** Makes a new directory entry durable; a no-op where directories cannot be opened (Windows). */
export async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
