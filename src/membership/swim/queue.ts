import { assert } from '../../core/index.js';
import { ownBytes } from '../intern.js';
import type { CompoundBuilder } from './compound.js';

/**
 * The transmit-limited broadcast queue (memberlist's `TransmitLimitedQueue`).
 *
 * Each item is an encoded part with an invalidation key (a member's id for membership records,
 * a node+key for the layer above). Items are handed out in order of fewest transmissions first,
 * then newest first; an item leaves the queue once it was sent `limit` times, where `limit` is
 * given at each fill (it grows with the cluster: `retransmitLimit`). Enqueueing an item with the
 * key of a queued one replaces it (the newer statement about a subject invalidates the older).
 *
 * Storage: one bucket per transmit count, each an array sorted by insertion id, so a fill walks
 * buckets from 0 up and each bucket from its end (newest) down. At most `maxScan` items are
 * examined per fill, which bounds the cost of a fill in a huge queue.
 */

interface Item {
  readonly key: string;
  readonly bytes: Uint8Array;
  readonly id: number;
  transmits: number;
}

/** Finds `id` (or its insertion point) in a bucket sorted by id. */
function search(bucket: readonly Item[], id: number): number {
  let lo = 0;
  let hi = bucket.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bucket[mid]!.id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Snapshot of one queued item, for tests and debugging. */
export interface QueuedBroadcast {
  readonly key: string;
  readonly bytes: Uint8Array;
  readonly transmits: number;
}

/** See the module comment. */
export class TransmitLimitedQueue {
  private readonly byKey = new Map<string, Item>();
  private readonly buckets: Item[][] = [];
  private nextId = 0;
  /** Queued items by byte length, and the smallest length: a fill stops once nothing can fit. */
  private readonly sizes = new Map<number, number>();
  private minSize = Number.POSITIVE_INFINITY;

  /**
   * @param maxItems - items held at once; over it the item closest to done is evicted
   * @param maxScan - items examined per fill (default 1024)
   */
  constructor(
    readonly maxItems: number,
    readonly maxScan = 1024,
  ) {
    assert(maxItems >= 1, 'queue must hold at least one item');
  }

  /** Items queued. */
  get size(): number {
    return this.byKey.size;
  }

  /** True when an item with `key` is queued (not yet sent `limit` times nor invalidated). */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /**
   * Queues `bytes` under `key`, replacing a queued item with the same key.
   *
   * @returns how many items were evicted to make room (0 or 1)
   */
  enqueue(key: string, bytes: Uint8Array): number {
    this.invalidate(key);
    let evicted = 0;
    if (this.byKey.size >= this.maxItems) {
      this.evictOne();
      evicted = 1;
    }
    // Own bytes: an encoding is often a view into the codec's large shared buffer, which a queued
    // item would otherwise keep alive (a few hundred bytes pinning 64+ KiB).
    const item: Item = { key, bytes: ownBytes(bytes), id: this.nextId++, transmits: 0 };
    this.byKey.set(key, item);
    this.sizeAdded(bytes.length);
    this.bucket(0).push(item); // ids only grow, so the end keeps the bucket sorted
    return evicted;
  }

  /** Removes the item with `key`; returns whether there was one. */
  invalidate(key: string): boolean {
    const item = this.byKey.get(key);
    if (item === undefined) return false;
    this.unlink(item);
    this.byKey.delete(key);
    this.sizeRemoved(item.bytes.length);
    return true;
  }

  /** Removes every item. */
  clear(): void {
    this.byKey.clear();
    this.buckets.length = 0;
    this.sizes.clear();
    this.minSize = Number.POSITIVE_INFINITY;
  }

  /**
   * Adds queued items to `packet` while they fit, fewest transmissions first, newest first; each
   * item added counts one transmission and leaves the queue at `limit`.
   *
   * @param packet - the compound being filled (its earlier parts keep their priority)
   * @param limit - the retransmit limit now (>= 1)
   * @returns how many items were added
   */
  fill(packet: CompoundBuilder, limit: number): number {
    assert(limit >= 1, `retransmit limit must be >= 1, got ${limit}`);
    const taken: Item[] = [];
    const expired: Item[] = [];
    let scanned = 0;
    // No bucket at or above `limit`: no item can be expired, so once even the smallest queued item
    // does not fit, the rest of the scan could add nothing and is skipped (same result, less work).
    const noneExpired = this.buckets.length <= limit;
    outer: for (let t = 0; t < this.buckets.length; t++) {
      const bucket = this.buckets[t]!;
      for (let i = bucket.length - 1; i >= 0; i--) {
        if (packet.full || scanned >= this.maxScan) break outer;
        scanned++;
        const item = bucket[i]!;
        if (item.transmits >= limit) {
          expired.push(item); // the limit shrank (fewer members) below what was already sent
          continue;
        }
        if (packet.add(item.bytes)) taken.push(item);
        else if (noneExpired && !packet.fits(this.minSize)) break outer;
      }
    }
    for (const item of expired) this.invalidate(item.key);
    for (const item of taken) {
      this.unlink(item);
      item.transmits++;
      if (item.transmits >= limit) {
        this.byKey.delete(item.key);
        this.sizeRemoved(item.bytes.length);
      } else {
        this.link(item);
      }
    }
    return taken.length;
  }

  /** Every queued item in hand-out order (fewest transmissions, then newest, first). */
  snapshot(): QueuedBroadcast[] {
    const out: QueuedBroadcast[] = [];
    for (const bucket of this.buckets) {
      for (let i = bucket.length - 1; i >= 0; i--) {
        const item = bucket[i]!;
        out.push({ key: item.key, bytes: item.bytes, transmits: item.transmits });
      }
    }
    return out;
  }

  private sizeAdded(length: number): void {
    this.sizes.set(length, (this.sizes.get(length) ?? 0) + 1);
    if (length < this.minSize) this.minSize = length;
  }

  private sizeRemoved(length: number): void {
    const n = (this.sizes.get(length) ?? 0) - 1;
    if (n > 0) {
      this.sizes.set(length, n);
      return;
    }
    this.sizes.delete(length);
    if (length === this.minSize) {
      this.minSize = Number.POSITIVE_INFINITY;
      for (const size of this.sizes.keys()) if (size < this.minSize) this.minSize = size;
    }
  }

  private bucket(t: number): Item[] {
    while (this.buckets.length <= t) this.buckets.push([]);
    return this.buckets[t]!;
  }

  private link(item: Item): void {
    const bucket = this.bucket(item.transmits);
    bucket.splice(search(bucket, item.id), 0, item);
  }

  private unlink(item: Item): void {
    const bucket = this.buckets[item.transmits]!;
    const at = search(bucket, item.id);
    assert(bucket[at] === item, 'queued item missing from its bucket');
    bucket.splice(at, 1);
  }

  /** Drops the item closest to done: most transmissions, oldest first. */
  private evictOne(): void {
    for (let t = this.buckets.length - 1; t >= 0; t--) {
      const oldest = this.buckets[t]![0];
      if (oldest !== undefined) {
        this.invalidate(oldest.key);
        return;
      }
    }
  }
}
