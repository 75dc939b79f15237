import { type BatchOp, concatBytes, type KeyRange, type Storage } from '../../core/index.js';

/**
 * A view of a {@link Storage} in which every key carries a fixed prefix, so two owners (the MVCC
 * store and the server's member table) share one Storage without knowing each other's layout.
 * Batches stay atomic (they go to the inner storage as one batch); keys come back unprefixed.
 * Closing the view does not close the inner storage: its owner does.
 */
export class PrefixedStorage implements Storage {
  private readonly upper: Uint8Array;

  /**
   * @param inner - the shared storage
   * @param prefix - non-empty, and no view's prefix may be a prefix of another's
   * @example
   * ```ts
   * const mvccView = new PrefixedStorage(storage, Uint8Array.of(0x6d)); // 'm'
   * ```
   */
  constructor(
    private readonly inner: Storage,
    private readonly prefix: Uint8Array,
  ) {
    if (prefix.length === 0 || prefix[prefix.length - 1] === 0xff) {
      throw new RangeError('a storage prefix is non-empty and does not end in 0xff');
    }
    this.upper = prefix.slice();
    this.upper[this.upper.length - 1]! += 1;
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.inner.get(this.wrap(key));
  }

  batch(ops: readonly BatchOp[], options?: { sync?: boolean }): Promise<void> {
    const wrapped = ops.map(
      (op): BatchOp =>
        op.type === 'put'
          ? { type: 'put', key: this.wrap(op.key), value: op.value }
          : { type: 'del', key: this.wrap(op.key) },
    );
    return this.inner.batch(wrapped, options);
  }

  async *iterator(range: KeyRange = {}): AsyncIterable<[key: Uint8Array, value: Uint8Array]> {
    const inner: KeyRange = {};
    if (range.gt !== undefined) inner.gt = this.wrap(range.gt);
    if (range.gte !== undefined) inner.gte = this.wrap(range.gte);
    if (range.gt === undefined && range.gte === undefined) inner.gte = this.prefix;
    if (range.lt !== undefined) inner.lt = this.wrap(range.lt);
    if (range.lte !== undefined) inner.lte = this.wrap(range.lte);
    if (range.lt === undefined && range.lte === undefined) inner.lt = this.upper;
    if (range.reverse !== undefined) inner.reverse = range.reverse;
    if (range.limit !== undefined) inner.limit = range.limit;
    const n = this.prefix.length;
    for await (const [key, value] of this.inner.iterator(inner)) yield [key.subarray(n), value];
  }

  /** A no-op: the inner storage belongs to whoever opened it. */
  async close(): Promise<void> {}

  private wrap(key: Uint8Array): Uint8Array {
    return concatBytes([this.prefix, key]);
  }
}
