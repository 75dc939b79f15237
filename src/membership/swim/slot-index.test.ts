import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { memberKey } from './member-key.js';
import { SlotIndex } from './slot-index.js';

/**
 * Rows in a dense array with swap-remove, indexed by SlotIndex and by a Map model. `base` is the
 * base hash: `memberKey` by default; a weak one makes many keys share a base hash.
 */
class Rows {
  readonly keys: string[] = [];
  readonly index: SlotIndex;
  readonly model = new Map<string, number>();

  constructor(base: (key: string) => number = memberKey) {
    this.index = new SlotIndex(
      (slot) => this.keys[slot]!,
      (slot) => base(this.keys[slot]!),
      base,
    );
  }

  add(key: string): void {
    if (this.model.has(key)) return;
    this.keys.push(key);
    this.index.insert(key, this.keys.length - 1);
    this.model.set(key, this.keys.length - 1);
  }

  remove(key: string): void {
    const slot = this.model.get(key);
    if (slot === undefined) return;
    this.index.delete(key);
    const lastSlot = this.keys.length - 1;
    const last = this.keys[lastSlot]!;
    if (slot !== lastSlot) {
      this.index.move(last, slot);
      this.keys[slot] = last;
      this.model.set(last, slot);
    }
    this.keys.pop();
    this.model.delete(key);
  }
}

describe('SlotIndex', () => {
  it('answers like a Map through inserts, swap-removes and growth', () => {
    const op = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 300 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
        const rows = new Rows();
        for (const [add, n] of ops) {
          // Keys sharing long prefixes, like node ids of one alphabet.
          const key = `node-${n % 7}-${n}`;
          if (add) rows.add(key);
          else rows.remove(key);
          assert.equal(rows.index.size, rows.model.size);
        }
        for (let n = 0; n <= 300; n++) {
          const key = `node-${n % 7}-${n}`;
          assert.equal(rows.index.find(key), rows.model.get(key) ?? -1, key);
        }
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('keeps keys reachable in a small table, where probe runs wrap past the last cell', () => {
    // At most 8 keys: the table stays at 16 cells, so runs often cross from the end to the start.
    const op = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 7 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const rows = new Rows();
        for (const [add, n] of ops) {
          if (add) rows.add(`id${n}`);
          else rows.remove(`id${n}`);
          for (let k = 0; k <= 7; k++)
            assert.equal(rows.index.find(`id${k}`), rows.model.get(`id${k}`) ?? -1);
        }
      }),
      { numRuns: 1000, seed: 11 },
    );
  });

  it('keeps every key reachable when a removal empties the middle of a probe run', () => {
    // Many keys in a small table make long runs that wrap around the end of the cells.
    const rows = new Rows();
    for (let i = 0; i < 2000; i++) rows.add(`k${i}`);
    for (let i = 0; i < 2000; i += 3) rows.remove(`k${i}`);
    for (let i = 0; i < 2000; i++) assert.equal(rows.index.find(`k${i}`), rows.model.get(`k${i}`) ?? -1);
    assert.equal(rows.index.size, rows.model.size);
  });

  it('answers like a Map when many keys share a base hash', () => {
    // 4 distinct base hashes for up to 300 keys: long runs of equal homes, matched by key alone.
    const op = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 300 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
        const rows = new Rows((key) => key.length % 4);
        for (const [add, n] of ops) {
          if (add) rows.add(`k${n}`);
          else rows.remove(`k${n}`);
        }
        for (let n = 0; n <= 300; n++) assert.equal(rows.index.find(`k${n}`), rows.model.get(`k${n}`) ?? -1);
        assert.equal(rows.index.size, rows.model.size);
      }),
      { numRuns: 100, seed: 13 },
    );
  });

  it('uses both words of a 53-bit base hash', () => {
    // Keys whose base hashes differ only above bit 32 must not all land in one home cell.
    const rows = new Rows((key) => Number(key.slice(1)) * 0x1_0000_0000);
    for (let i = 0; i < 64; i++) rows.add(`k${i}`);
    for (let i = 0; i < 64; i++) assert.equal(rows.index.find(`k${i}`), i);
    const homes = new Set<number>();
    const hash = (rows.index as unknown as { hash(b: number): number }).hash.bind(rows.index);
    for (let i = 0; i < 64; i++) homes.add(hash(i * 0x1_0000_0000) & 127);
    assert.ok(homes.size > 32, `only ${homes.size} home cells for 64 keys`);
  });
});
