import { assert } from '../../core/index.js';
import { seededKeyHash } from './member-key.js';

/**
 * `n` empty cells: a plain array of small integers, on the heap. An `Int32Array` took half the
 * bytes, but it was ArrayBuffer memory, and V8 starts a full collection for every 64 MB of that
 * allocated, live or not: at 10,000 simulated nodes every node's index doubling to 32,768 cells was
 * 1.3 GB of it, twenty collections of a heap of gigabytes. Small integers in an array are
 * unboxed words; the collector only checks each one's tag.
 */
function emptyCells(n: number): number[] {
  return new Array<number>(n).fill(0);
}

/**
 * A hash index from a string key to a slot of a dense array, for tables with one row per member.
 *
 * Why not a `Map`: a `Map` entry costs about 46 bytes (measured in a heap snapshot of the member
 * table), and every node of an N-node simulation holds N of them, so at 10,000 nodes the maps alone
 * were about 4.6 GB. Here the index is one array of slot numbers with linear probing, 16 to 32
 * bytes per key (see `emptyCells`); the keys themselves stay in the caller's rows (`keyAt`).
 *
 * Hashing: the caller gives each key a base hash (a number; for members the 53-bit `memberKey`,
 * carried by each row, so neither lookups nor growth hash strings), and the index mixes it with a
 * seed drawn per index, so that nobody who picks keys can predict which keys share cells and make
 * lookups slow without also making their base hashes equal (for member keys, a 53-bit collision of
 * public keys). The seed changes only the layout, never what the index answers, so determinism of
 * the caller is unaffected. Equal base hashes only make runs longer: cells are matched by key.
 * Removal shifts later cells back (no tombstones), so lookups stay short however many keys come and
 * go.
 */
export class SlotIndex {
  /** Slot + 1 per cell, 0 = empty. The length is a power of two, at least twice the count. */
  private cells = emptyCells(16);
  private mask = 15;
  private count = 0;
  private readonly seed = (Math.random() * 0x1_0000_0000) >>> 0;

  /**
   * @param keyAt - the key of the row in `slot` (the caller's rows are the truth)
   * @param baseAt - the base hash of the row in `slot`
   * @param baseOf - the base hash of a key (the same function `baseAt` answers for its row's key)
   */
  constructor(
    private readonly keyAt: (slot: number) => string,
    private readonly baseAt: (slot: number) => number,
    private readonly baseOf: (key: string) => number,
  ) {}

  /** Keys indexed. */
  get size(): number {
    return this.count;
  }

  /** The slot of `key`, or -1; `base` is the key's base hash when the caller has it. */
  find(key: string, base = this.baseOf(key)): number {
    const cells = this.cells;
    for (let i = this.hash(base) & this.mask; ; i = (i + 1) & this.mask) {
      const c = cells[i]!;
      if (c === 0) return -1;
      if (this.keyAt(c - 1) === key) return c - 1;
    }
  }

  /** Indexes `key` at `slot`; the key must not be indexed yet. */
  insert(key: string, slot: number, base = this.baseOf(key)): void {
    if ((this.count + 1) * 2 > this.cells.length) this.grow();
    const i = this.emptyCellFor(base);
    this.cells[i] = slot + 1;
    this.count++;
  }

  /** Points `key` (indexed) at `slot` instead: its row moved. */
  move(key: string, slot: number, base = this.baseOf(key)): void {
    const i = this.cellOf(key, base);
    this.cells[i] = slot + 1;
  }

  /** Removes `key` (indexed). Call it while `keyAt` still answers for the key's row. */
  delete(key: string, base = this.baseOf(key)): void {
    const cells = this.cells;
    const mask = this.mask;
    let hole = this.cellOf(key, base);
    // Backward-shift deletion: move each later cell of the run into the hole when its home cell is
    // not between the hole and itself (cyclically), so every key stays reachable from its home.
    for (let j = (hole + 1) & mask; cells[j] !== 0; j = (j + 1) & mask) {
      const home = this.hash(this.baseAt(cells[j]! - 1)) & mask;
      const reachable = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (reachable) continue;
      cells[hole] = cells[j]!;
      hole = j;
    }
    cells[hole] = 0;
    this.count--;
  }

  private cellOf(key: string, base: number): number {
    const cells = this.cells;
    for (let i = this.hash(base) & this.mask; ; i = (i + 1) & this.mask) {
      const c = cells[i]!;
      assert(c !== 0, `key ${key} is not indexed`);
      if (this.keyAt(c - 1) === key) return i;
    }
  }

  private emptyCellFor(base: number): number {
    for (let i = this.hash(base) & this.mask; ; i = (i + 1) & this.mask) {
      if (this.cells[i] === 0) return i;
    }
  }

  private grow(): void {
    const old = this.cells;
    this.cells = emptyCells(old.length * 2);
    this.mask = this.cells.length - 1;
    for (const c of old) if (c !== 0) this.cells[this.emptyCellFor(this.baseAt(c - 1))] = c;
  }

  /** The cell hash of a base hash (see `seededKeyHash`). */
  private hash(base: number): number {
    return seededKeyHash(base, this.seed);
  }
}
