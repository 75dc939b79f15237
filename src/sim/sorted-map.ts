import { type BatchOp, inRange, type KeyRange } from '../core/index.js';

/**
 * An ordered map from byte keys to byte values, the in-memory engine under the simulated
 * storages.
 *
 * Keys are held as latin1 strings (one character per byte), whose natural string order is the
 * unsigned byte order every `Storage` sorts by; a sorted array of those strings gives ordered
 * iteration with binary search, and a `Map` gives O(1) reads.
 */
export class SortedBytesMap {
  private readonly values = new Map<string, Uint8Array>();
  private keys: string[] = [];

  /** Number of entries. */
  get size(): number {
    return this.values.size;
  }

  /** The value at `key`. */
  get(key: Uint8Array): Uint8Array | undefined {
    return this.values.get(keyString(key))?.slice();
  }

  /** Applies a batch in order. */
  apply(ops: readonly BatchOp[]): void {
    for (const op of ops) {
      const k = keyString(op.key);
      if (op.type === 'put') {
        if (!this.values.has(k)) this.keys.splice(this.lowerBound(k), 0, k);
        // Copied: a caller that reuses its buffer must not change what was written.
        this.values.set(k, op.value.slice());
      } else if (this.values.delete(k)) {
        this.keys.splice(this.lowerBound(k), 1);
      }
    }
  }

  /** Entries within `range`, in order (or reverse), up to `range.limit`. A snapshot copy. */
  range(range: KeyRange = {}): Array<[Uint8Array, Uint8Array]> {
    const limit = range.limit ?? Number.POSITIVE_INFINITY;
    const out: Array<[Uint8Array, Uint8Array]> = [];
    if (limit <= 0) return out;
    const keys = this.keys;
    const lowKey = range.gte ?? range.gt;
    const start = lowKey === undefined ? 0 : this.lowerBound(keyString(lowKey));
    if (range.reverse) {
      const highKey = range.lte ?? range.lt;
      const hi = highKey === undefined ? keys.length : this.upperBound(keyString(highKey));
      for (let i = hi - 1; i >= start && out.length < limit; i--) this.take(keys[i]!, range, out);
    } else {
      for (let i = start; i < keys.length && out.length < limit; i++) {
        if (!this.take(keys[i]!, range, out) && this.pastEnd(keys[i]!, range)) break;
      }
    }
    return out;
  }

  /** A copy; stored values are never mutated in place, so the copy shares them. */
  clone(): SortedBytesMap {
    const copy = new SortedBytesMap();
    for (const [k, v] of this.values) copy.values.set(k, v);
    copy.keys = [...this.keys];
    return copy;
  }

  private take(k: string, range: KeyRange, out: Array<[Uint8Array, Uint8Array]>): boolean {
    const key = keyBytes(k);
    if (!inRange(key, range)) return false;
    out.push([key, this.values.get(k)!.slice()]);
    return true;
  }

  private pastEnd(k: string, range: KeyRange): boolean {
    if (range.lt !== undefined && k >= keyString(range.lt)) return true;
    if (range.lte !== undefined && k > keyString(range.lte)) return true;
    return false;
  }

  private lowerBound(k: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private upperBound(k: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! <= k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

function keyBytes(k: string): Uint8Array {
  return new Uint8Array(Buffer.from(k, 'latin1'));
}
