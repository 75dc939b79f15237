import { type BatchOp, concatBytes, type KeyRange, type Storage } from '../../core/index.js';

/**
 * A view of a {@link Storage} in which every key carries a fixed prefix, so two owners (the MVCC
 * store and the server's member table) share one Storage without knowing each other's layout.
 * Batches stay atomic (they go to the inner storage as one batch); keys come back unprefixed.
 * Closing the view does not close the inner storage: its owner does.
 */
export class PrefixedStorage implements Storage {
  private readonly upper: Uint8Array;
  private written = 0;

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

  /**
   * Bytes (keys with their prefix, and values) of every put written through this view since it
   * was made: deletes and overwrites are not subtracted (their old sizes are unknown without a
   * read), so this grows like a file that is never defragmented.
   */
  get bytesWritten(): number {
    return this.written;
  }

  async batch(ops: readonly BatchOp[], options?: { sync?: boolean }): Promise<void> {
    let bytes = 0;
    const wrapped = ops.map((op): BatchOp => {
      if (op.type === 'del') return { type: 'del', key: this.wrap(op.key) };
      bytes += this.prefix.length + op.key.length + op.value.length;
      return { type: 'put', key: this.wrap(op.key), value: op.value };
    });
    await this.inner.batch(wrapped, options);
    this.written += bytes;
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
