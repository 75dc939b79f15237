import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKvError } from '../errors.js';
import type { Cell } from '../types.js';
import { type CellsWireLimits, decodeCells, encodeCells } from './cells-wire.js';
import type { KeyedCell } from './protocol.js';

const enc = new TextEncoder();
const LIMITS: CellsWireLimits = { maxCells: 8, maxKeyBytes: 64, maxValueBytes: 256 };

const cells: KeyedCell[] = [
  { key: enc.encode('a'), cell: { version: { wall: 1, logical: 0, node: 0 }, value: enc.encode('one') } },
  {
    key: enc.encode('key two'),
    cell: {
      version: { wall: Number.MAX_SAFE_INTEGER, logical: 0xffff, node: 0xffff_ffff },
      value: new Uint8Array(0),
      expiresAt: 2 ** 40 + 7,
    },
  },
  {
    key: new Uint8Array(64).fill(7),
    cell: { version: { wall: 2 ** 32, logical: 1, node: 5 }, value: undefined },
  },
  {
    key: enc.encode('t'),
    cell: { version: { wall: 3, logical: 2, node: 1 }, value: undefined, expiresAt: 99 } as Cell,
  },
];

/** A deterministic byte stream (xorshift32). */
function bytesFrom(seed: number, n: number): Uint8Array {
  let x = seed || 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('cells wire', () => {
  it('round-trips keys, versions, values, tombstones and expiries', () => {
    assert.deepEqual(decodeCells(encodeCells(cells), LIMITS), cells);
  });

  it('refuses every truncation of a valid message with INVALID_ARGUMENT', () => {
    const bytes = encodeCells(cells);
    const ends = new Set<number>();
    let at = 0;
    for (const c of cells) {
      at += encodeCells([c]).length;
      ends.add(at);
    }
    for (let n = 0; n < bytes.length; n++) {
      if (ends.has(n)) continue; // a cut between cells is a shorter valid message
      assert.throws(
        () => decodeCells(bytes.subarray(0, n), LIMITS),
        (e) => isKvError(e, 'INVALID_ARGUMENT'),
        `cut at ${n}`,
      );
    }
  });

  it('refuses what passes its bounds: cells, key and value sizes, walls past 2^53 - 1, unknown flags', () => {
    const refused = (bytes: Uint8Array, what: RegExp) =>
      assert.throws(
        () => decodeCells(bytes, LIMITS),
        (e) => isKvError(e, 'INVALID_ARGUMENT') && what.test((e as Error).message),
      );
    const one = (c: Partial<KeyedCell['cell']>, key = enc.encode('k')) =>
      encodeCells([
        { key, cell: { version: { wall: 1, logical: 0, node: 0 }, value: enc.encode('v'), ...c } },
      ]);
    const nine = encodeCells(Array.from({ length: 9 }, () => cells[0]!));
    refused(nine, /more than 8 cells/);
    refused(one({}, new Uint8Array(65)), /key of 65 bytes/);
    refused(one({ value: new Uint8Array(257) }), /value of 257 bytes/);
    refused(new Uint8Array(0), /no cell/);
    const empty = one({});
    empty.set([0, 0, 0, 0], 0);
    refused(empty, /key of 0 bytes/);
    const wall = one({});
    wall[5] = 0x00;
    wall[6] = 0x20; // high word 2^21: past 2^53 - 1
    refused(wall, /wall past/);
    const flags = one({});
    flags[4 + 1 + 14] = 4;
    refused(flags, /unknown flags/);
  });

  it('answers random bytes with cells or INVALID_ARGUMENT, never another error', () => {
    for (let seed = 1; seed <= 2_000; seed++) {
      const bytes = bytesFrom(seed, 1 + (seed % 97));
      try {
        decodeCells(bytes, LIMITS);
      } catch (e) {
        assert.ok(isKvError(e, 'INVALID_ARGUMENT'), `seed ${seed}: ${String(e)}`);
      }
    }
  });
});
