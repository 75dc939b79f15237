/**
 * The one storage interface under every durable brick.
 *
 * The Raft log, the MVCC store and the partitioned store all write through {@link Storage}. It has
 * a LevelDB implementation (classic-level) and a simulated one in `sim/` whose unsynced writes
 * vanish on a crash. Keys and values are bytes; keys sort by unsigned byte order.
 *
 * Durability contract: a `batch` is atomic. When `batch(ops, { sync: true })` resolves, the batch
 * and every earlier batch survive a crash. A batch written with `sync: false` may be lost on a crash
 * (with every later unsynced batch), but never partially applied and never reordered.
 */
export interface Storage {
  /** The value at `key`, or `undefined`. */
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Applies `ops` atomically, in order. */
  batch(ops: readonly BatchOp[], options?: { sync?: boolean }): Promise<void>;
  /**
   * Entries in key order (or reverse) within `range`. An iteration reads one fixed state: every
   * batch that resolved before its first `next()` was called, and no batch begun after that call
   * resolved (LevelDB: the iterator's implicit snapshot; the simulated stores copy the range), so
   * a reader that holds its writers back only until the first entry arrives reads a consistent
   * image while they go on.
   */
  iterator(range?: KeyRange): AsyncIterable<[key: Uint8Array, value: Uint8Array]>;
  /** Releases the storage; later calls reject with `CLOSED`. */
  close(): Promise<void>;
}

/** One write in a batch. */
export type BatchOp =
  | { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: Uint8Array };

/** A key range; bounds are optional and combine. */
export interface KeyRange {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
  reverse?: boolean;
  /** Maximum entries to return; default unbounded. */
  limit?: number;
}

/** Unsigned lexicographic comparison of byte strings: the order every Storage sorts by. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** True when `key` lies inside `range`'s bounds (ignores `reverse` and `limit`). */
export function inRange(key: Uint8Array, range: KeyRange): boolean {
  if (range.gt !== undefined && compareBytes(key, range.gt) <= 0) return false;
  if (range.gte !== undefined && compareBytes(key, range.gte) < 0) return false;
  if (range.lt !== undefined && compareBytes(key, range.lt) >= 0) return false;
  if (range.lte !== undefined && compareBytes(key, range.lte) > 0) return false;
  return true;
}
