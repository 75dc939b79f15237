/**
 * Cells: the LWW merge against a sort-based oracle (commutative, associative, idempotent), the
 * byte form's round trip and its refusal of malformed bytes.
 * Run: node --import tsx --test src/kv/engine/cell.test.ts
 * Property seeds: the seed is printed on failure; replay with FC_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareBytes, isCairnError, utf8 } from '../../core/index.js';
import { type Cell, compareVersions } from '../types.js';
import { decodeCell, deletionTime, encodeCell, isLive, isPurgeable, mergeCells, sameCell } from './cell.js';

const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);
const params = { seed, numRuns: 500 };

/** Cells from a tiny space, so equal versions with different contents occur. */
const cellArb: fc.Arbitrary<Cell> = fc
  .record({
    wall: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(Number.MAX_SAFE_INTEGER)),
    logical: fc.integer({ min: 0, max: 2 }),
    node: fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constant(0xffffffff)),
    value: fc.option(fc.uint8Array({ maxLength: 3 }), { nil: undefined }),
    expiresAt: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  })
  .map(({ wall, logical, node, value, expiresAt }) => {
    const version = { wall, logical, node };
    return expiresAt === undefined ? { version, value } : { version, value, expiresAt };
  });

/** The oracle: the maximum under the documented total order, written as one comparator. */
function oracleWinner(cells: readonly Cell[]): Cell {
  const rank = (a: Cell, b: Cell): number => {
    const v = compareVersions(a.version, b.version);
    if (v !== 0) return v;
    const ta = a.value === undefined ? 1 : 0;
    const tb = b.value === undefined ? 1 : 0;
    if (ta !== tb) return ta - tb;
    const ea = a.expiresAt ?? Number.POSITIVE_INFINITY;
    const eb = b.expiresAt ?? Number.POSITIVE_INFINITY;
    if (ea !== eb) return ea < eb ? -1 : 1;
    return compareBytes(a.value ?? new Uint8Array(0), b.value ?? new Uint8Array(0));
  };
  return [...cells].sort(rank).at(-1)!;
}

describe('mergeCells', () => {
  it('picks the oracle winner whatever the order of arrival', () => {
    fc.assert(
      fc.property(fc.array(cellArb, { minLength: 1, maxLength: 6 }), (cells) => {
        const expected = oracleWinner(cells);
        const forward = cells.reduce<Cell | undefined>((acc, c) => mergeCells(acc, c), undefined)!;
        const backward = [...cells]
          .reverse()
          .reduce<Cell | undefined>((acc, c) => mergeCells(acc, c), undefined)!;
        assert.ok(sameCell(forward, expected));
        assert.ok(sameCell(backward, expected));
      }),
      params,
    );
  });

  it('is idempotent and returns the stored cell (by identity) when nothing changes', () => {
    fc.assert(
      fc.property(cellArb, (c) => {
        assert.equal(mergeCells(c, c), c);
        assert.equal(mergeCells(c, { ...c }), c);
      }),
      params,
    );
  });

  it('lets a tombstone shadow an older value and lose to a newer one', () => {
    const value: Cell = { version: { wall: 5, logical: 0, node: 1 }, value: utf8('v') };
    const tomb: Cell = { version: { wall: 6, logical: 0, node: 1 }, value: undefined };
    const newer: Cell = { version: { wall: 7, logical: 0, node: 2 }, value: utf8('w') };
    assert.equal(mergeCells(value, tomb), tomb);
    assert.equal(mergeCells(tomb, value), tomb);
    assert.equal(mergeCells(tomb, newer), newer);
  });
});

describe('liveness and purging', () => {
  it('reads expired cells as absent and dates deletions', () => {
    const v = { wall: 100, logical: 0, node: 1 };
    assert.ok(isLive({ version: v, value: utf8('x') }, 10 ** 12));
    assert.ok(isLive({ version: v, value: utf8('x'), expiresAt: 200 }, 199));
    assert.ok(!isLive({ version: v, value: utf8('x'), expiresAt: 200 }, 200));
    assert.ok(!isLive({ version: v, value: undefined }, 0));
    assert.equal(deletionTime({ version: v, value: undefined }, 0), 100);
    assert.equal(deletionTime({ version: v, value: utf8('x'), expiresAt: 200 }, 250), 200);
    assert.equal(deletionTime({ version: v, value: utf8('x'), expiresAt: 200 }, 150), undefined);
    assert.ok(!isPurgeable({ version: v, value: undefined }, 149, 50));
    assert.ok(isPurgeable({ version: v, value: undefined }, 150, 50));
    assert.ok(isPurgeable({ version: v, value: utf8('x'), expiresAt: 200 }, 250, 50));
    assert.ok(!isPurgeable({ version: v, value: utf8('x'), expiresAt: 200 }, 249, 50));
  });
});

describe('cell codec', () => {
  it('round-trips every cell', () => {
    fc.assert(
      fc.property(cellArb, fc.uint8Array({ maxLength: 300 }), (c, big) => {
        const cell = c.value === undefined ? c : { ...c, value: big };
        const back = decodeCell(encodeCell(cell));
        assert.deepEqual(back, cell);
      }),
      params,
    );
  });

  it('decodes from a view with an offset (LevelDB hands out Buffer slices)', () => {
    const cell: Cell = {
      version: { wall: 2 ** 40 + 3, logical: 9, node: 77 },
      value: utf8('abc'),
      expiresAt: 2 ** 41,
    };
    const bytes = encodeCell(cell);
    const padded = new Uint8Array(bytes.length + 5);
    padded.set(bytes, 5);
    assert.deepEqual(decodeCell(padded.subarray(5)), cell);
  });

  it('refuses malformed bytes with DECODE_FAILED and never throws anything else', () => {
    const good = encodeCell({ version: { wall: 1, logical: 0, node: 0 }, value: undefined, expiresAt: 5 });
    const bad = [
      new Uint8Array(0),
      good.subarray(0, 15),
      Uint8Array.of(2, ...good.subarray(1)),
      Uint8Array.of(1, 4, ...good.subarray(2)),
      Uint8Array.of(...good, 1), // a tombstone with value bytes
      good.subarray(0, 20), // expiry cut short
      Uint8Array.of(1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0), // wall > 2^53
    ];
    for (const b of bad)
      assert.throws(
        () => decodeCell(b),
        (e) => isCairnError(e, 'DECODE_FAILED'),
      );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        try {
          const c = decodeCell(b);
          assert.deepEqual(decodeCell(encodeCell(c)), c);
        } catch (e) {
          assert.ok(isCairnError(e, 'DECODE_FAILED'), String(e));
        }
      }),
      params,
    );
  });
});
