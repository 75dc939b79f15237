import type { Storage } from '../../core/index.js';
import type { PrefixedStorage } from './prefixed-storage.js';

/**
 * `status().dbSize`: what etcd reports as the backend's file size.
 *
 * - When the member's Storage can tell its physical size (an optional `approximateSize()`, as
 *   LevelDB's over the whole key range), that: like etcd's bolt file size, it counts what is
 *   on disk, compacted-away data included until the engine reclaims it.
 * - Otherwise the bytes written through the server's storage views since this member started
 *   (puts' keys and values; nothing subtracted), an estimate that resets at restart.
 *
 * Contract: never throws; a failing `approximateSize()` falls back to the count.
 */

/** A Storage that knows its approximate size on disk, in bytes. */
export interface SizedStorage extends Storage {
  approximateSize(): Promise<number>;
}

/** True when `storage` offers {@link SizedStorage.approximateSize}. */
export function isSizedStorage(storage: Storage): storage is SizedStorage {
  return typeof (storage as Partial<SizedStorage>).approximateSize === 'function';
}

/** The dbSize of a member whose Storage is `storage`, seen through `views`. */
export async function dbSizeOf(storage: Storage, views: readonly PrefixedStorage[]): Promise<number> {
  const counted = views.reduce((sum, view) => sum + view.bytesWritten, 0);
  if (!isSizedStorage(storage)) return counted;
  try {
    const size = await storage.approximateSize();
    return Number.isSafeInteger(size) && size >= 0 ? size : counted;
  } catch {
    return counted;
  }
}
