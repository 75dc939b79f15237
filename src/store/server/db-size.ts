import type { Storage } from '../../core/index.js';
import type { PrefixedStorage } from './prefixed-storage.js';

/**
 * `status().dbSize` and `dbSizeInUse`: what etcd reports as its backend file's size and the part
 * of it holding live data.
 *
 * - When the member's Storage can tell its size on disk (an optional `approximateSize()`, as
 *   `LevelStorage` has: the bytes of every file of the database), that is dbSize: like etcd's
 *   bolt file size it counts what is on disk, deleted and compacted-away data included until
 *   the engine reclaims it (Defragment). dbSizeInUse is the storage's `approximateSizeInUse()`
 *   when it has one (LevelDB's estimate of the bytes holding live keys), else dbSize.
 * - Otherwise (MemoryStorage, SimDisk) both are the bytes written through the server's storage
 *   views since this member started (puts' keys and values; nothing subtracted), an estimate
 *   that resets at restart.
 *
 * Contract: never throws; a failing or nonsensical size falls back to the count.
 */

/** A Storage that knows its size on disk, in bytes (LevelStorage). */
export interface SizedStorage extends Storage {
  approximateSize(): Promise<number>;
  /** Bytes holding live data; absent: the same as `approximateSize()`. */
  approximateSizeInUse?(): Promise<number>;
}

/** True when `storage` offers {@link SizedStorage.approximateSize}. */
export function isSizedStorage(storage: Storage): storage is SizedStorage {
  return typeof (storage as Partial<SizedStorage>).approximateSize === 'function';
}

/** Both sizes Status reports. */
export interface DbSize {
  readonly dbSize: number;
  readonly dbSizeInUse: number;
}

async function measure(fn: () => Promise<number>): Promise<number | undefined> {
  try {
    const size = await fn();
    return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
  } catch {
    return undefined;
  }
}

/** The sizes of a member whose Storage is `storage`, seen through `views`. */
export async function dbSizeOf(storage: Storage, views: readonly PrefixedStorage[]): Promise<DbSize> {
  const counted = views.reduce((sum, view) => sum + view.bytesWritten, 0);
  if (!isSizedStorage(storage)) return { dbSize: counted, dbSizeInUse: counted };
  const dbSize = await measure(() => storage.approximateSize());
  if (dbSize === undefined) return { dbSize: counted, dbSizeInUse: counted };
  const inUse =
    storage.approximateSizeInUse === undefined
      ? undefined
      : await measure(() => (storage.approximateSizeInUse as () => Promise<number>).call(storage));
  return { dbSize, dbSizeInUse: Math.min(inUse ?? dbSize, dbSize) };
}
