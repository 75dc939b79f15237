import type { Entry } from '../types.js';

/**
 * Sizes of log entries, for the byte limits on messages, Ready batches and uncommitted data.
 * A fixed overhead per entry stands for its term, index and type on the wire, so that a batch of
 * empty entries is bounded too.
 */

/** Bytes counted per entry on top of its data: term, index and type once encoded. */
export const ENTRY_OVERHEAD_BYTES = 24;

/** The size an entry counts for against byte limits. */
export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

/** The bytes of application payload in `entries` (etcd's payloadsSize: data only). */
export function payloadBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const e of entries) total += e.data.byteLength;
  return total;
}

/**
 * The longest prefix of `entries` whose total size is at most `maxBytes`, but always at least one
 * entry when there is one, so that a single large entry still makes progress.
 */
export function limitSize<T extends Entry>(entries: T[], maxBytes: number): T[] {
  if (entries.length <= 1) return entries;
  let size = entrySizeBytes(entries[0]!);
  let n = 1;
  for (; n < entries.length; n++) {
    size += entrySizeBytes(entries[n]!);
    if (size > maxBytes) break;
  }
  return n === entries.length ? entries : entries.slice(0, n);
}
