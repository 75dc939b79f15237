import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bytesEqual } from '../../core/index.js';
import { sameCell } from '../engine/cell.js';
import type { Cell } from '../types.js';
import { cellDigest, HASHED, INLINE_VALUE_BYTES } from './digest.js';
import { MAX_DIGEST_BYTES } from './read-wire.js';

const version = fc.record({
  wall: fc.integer({ min: 0, max: 2 ** 50 }),
  logical: fc.integer({ min: 0, max: 3 }),
  node: fc.integer({ min: 0, max: 3 }),
});
/** Cells drawn from a small space, so that equal and nearly equal pairs come up often. */
const cell: fc.Arbitrary<Cell> = fc
  .record({
    version: fc.oneof(version, fc.constant({ wall: 5, logical: 0, node: 1 })),
    value: fc.option(
      fc.oneof(
        fc.uint8Array({ maxLength: 3, max: 2 }),
        fc.uint8Array({ minLength: INLINE_VALUE_BYTES - 1, maxLength: INLINE_VALUE_BYTES + 2, max: 1 }),
        fc.uint8Array({ minLength: 100, maxLength: 200 }),
      ),
      { nil: undefined },
    ),
    expiresAt: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  })
  .map((c) => {
    if (c.value === undefined || c.expiresAt === undefined) return { version: c.version, value: c.value };
    return c as Cell;
  });

describe('cellDigest', () => {
  it('is equal for two cells exactly when they are the same cell', () => {
    fc.assert(
      fc.property(cell, cell, (a, b) => {
        assert.equal(bytesEqual(cellDigest(a), cellDigest(b)), sameCell(a, b));
        assert.equal(bytesEqual(cellDigest(a), cellDigest({ ...a })), true);
      }),
      { numRuns: 2_000 },
    );
  });

  it('tells an absent cell from every stored one and fits a kv.readCells digest', () => {
    fc.assert(
      fc.property(cell, (c) => {
        const d = cellDigest(c);
        assert.ok(d.length > 0 && d.length <= MAX_DIGEST_BYTES);
        assert.equal(bytesEqual(d, cellDigest(undefined)), false);
      }),
    );
  });

  it('hashes long values, flagged, and keeps short ones as they are', () => {
    const v = { wall: 7, logical: 1, node: 2 };
    const short = cellDigest({ version: v, value: new Uint8Array(INLINE_VALUE_BYTES).fill(9) });
    assert.equal(short[1]! & HASHED, 0);
    assert.deepEqual([...short.subarray(short.length - INLINE_VALUE_BYTES)], new Array(32).fill(9));
    const long = cellDigest({ version: v, value: new Uint8Array(INLINE_VALUE_BYTES + 1).fill(9) });
    assert.equal(long[1]! & HASHED, HASHED);
    assert.equal(long.length, 16 + 32);
    // A long value whose bytes happen to equal another cell's hashed digest tail still differs.
    const tail = long.subarray(16);
    assert.equal(bytesEqual(cellDigest({ version: v, value: tail }), long), false);
  });
});
