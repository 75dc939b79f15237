import { assert, fnv1a32 } from '../../core/index.js';

/**
 * A hash index from a string key to a slot of a dense array, for tables with one row per member.
 *
 * Why not a `Map`: a `Map` entry costs about 46 bytes (measured in a heap snapshot of the member
 * table), and every node of an N-node simulation holds N of them, so at 10,000 nodes the maps alone
 * were about 4.6 GB. Here the index is one `Int32Array` of slot numbers with linear probing, 8 to 16
 * bytes per key; the keys themselves stay in the caller's rows (`keyAt`).
 *
 * Hashing: 32-bit FNV-1a over the whole key, mixed with a seed drawn per index, so that nobody who
 * picks keys (node ids are derived from keys a peer chooses) can predict collisions and make lookups
 * slow. The seed changes only the layout, never what the index answers, so determinism of the
 * caller is unaffected. Removal shifts later cells back (no tombstones), so lookups stay short
 * however many keys come and go.
 */
export class SlotIndex {
  /** Slot + 1 per cell, 0 = empty. The length is a power of two, at least twice the count. */
  private cells = new Int32Array(16);
  private mask = 15;
  private count = 0;
  private readonly seed = (Math.random() * 0x1_0000_0000) >>> 0;

  /** @param keyAt - the key of the row in `slot` (the caller's rows are the truth) */
  constructor(private readonly keyAt: (slot: number) => string) {}

  /** Keys indexed. */
  get size(): number {
    return this.count;
  }

  /** The slot of `key`, or -1. */
  find(key: string): number {
    const cells = this.cells;
    for (let i = this.hash(key) & this.mask; ; i = (i + 1) & this.mask) {
      const c = cells[i]!;
      if (c === 0) return -1;
      if (this.keyAt(c - 1) === key) return c - 1;
    }
  }

  /** Indexes `key` at `slot`; the key must not be indexed yet. */
  insert(key: string, slot: number): void {
    if ((this.count + 1) * 2 > this.cells.length) this.grow();
    const i = this.emptyCellFor(key);
    this.cells[i] = slot + 1;
    this.count++;
  }

  /** Points `key` (indexed) at `slot` instead: its row moved. */
  move(key: string, slot: number): void {
    const i = this.cellOf(key);
    this.cells[i] = slot + 1;
  }

  /** Removes `key` (indexed). Call it while `keyAt` still answers for the key's row. */
  delete(key: string): void {
    const cells = this.cells;
    const mask = this.mask;
    let hole = this.cellOf(key);
    // Backward-shift deletion: move each later cell of the run into the hole when its home cell is
    // not between the hole and itself (cyclically), so every key stays reachable from its home.
    for (let j = (hole + 1) & mask; cells[j] !== 0; j = (j + 1) & mask) {
      const home = this.hash(this.keyAt(cells[j]! - 1)) & mask;
      const reachable = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (reachable) continue;
      cells[hole] = cells[j]!;
      hole = j;
    }
    cells[hole] = 0;
    this.count--;
  }

  private cellOf(key: string): number {
    const cells = this.cells;
    for (let i = this.hash(key) & this.mask; ; i = (i + 1) & this.mask) {
      const c = cells[i]!;
      assert(c !== 0, `key ${key} is not indexed`);
      if (this.keyAt(c - 1) === key) return i;
    }
  }

  private emptyCellFor(key: string): number {
    for (let i = this.hash(key) & this.mask; ; i = (i + 1) & this.mask) {
      if (this.cells[i] === 0) return i;
    }
  }

  private grow(): void {
    const old = this.cells;
    this.cells = new Int32Array(old.length * 2);
    this.mask = this.cells.length - 1;
    for (const c of old) if (c !== 0) this.cells[this.emptyCellFor(this.keyAt(c - 1))] = c;
  }

  private hash(key: string): number {
    let h = fnv1a32(key, this.seed);
    // A final mix: FNV's low bits (the ones the mask keeps) depend weakly on the last characters.
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    return h >>> 0;
  }
}
