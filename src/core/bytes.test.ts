import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readU32BE, slabBytes, slabCopy } from './bytes.js';

describe('slabBytes', () => {
  it('hands out zeroed, non-overlapping views of shared slabs, and large arrays of their own', () => {
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const b = slabBytes(1 + (i % 1500));
      assert.equal(b.length, 1 + (i % 1500));
      assert.ok(
        b.every((x) => x === 0),
        'a piece starts zeroed',
      );
      assert.equal(b.byteOffset % 8, 0, 'pieces start 8-byte aligned');
      b.fill(i % 256);
      pieces.push(b);
    }
    // Writing every piece left every other intact: no two overlap.
    for (let i = 0; i < pieces.length; i++) assert.ok(pieces[i]!.every((x) => x === i % 256));
    const shared = pieces.filter((p) => p.buffer === pieces[0]!.buffer);
    assert.ok(shared.length > 1, 'small pieces share a slab');
    const big = slabBytes(10_000);
    assert.equal(big.byteOffset, 0);
    assert.equal(big.buffer.byteLength, 10_000, 'a large array owns its buffer');
    assert.equal(slabBytes(0).length, 0);
  });
});

describe('slabCopy', () => {
  it('copies bytes that no longer follow the source, small and large', () => {
    const src = Uint8Array.of(1, 2, 3);
    const copy = slabCopy(src);
    src[0] = 9;
    assert.deepEqual([...copy], [1, 2, 3]);
    assert.equal(Object.getPrototypeOf(copy), Uint8Array.prototype);
    assert.equal(slabCopy(new Uint8Array(0)).length, 0);
    const big = slabCopy(new Uint8Array(100_000).fill(7));
    assert.equal(big.length, 100_000);
    assert.equal(big[99_999], 7);
  });
});

describe('readU32BE', () => {
  it('reads four big-endian bytes at an offset as an unsigned integer', () => {
    const bytes = Uint8Array.of(9, 0xff, 0xff, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04);
    assert.equal(readU32BE(bytes, 1), 0xfffffffe);
    assert.equal(readU32BE(bytes, 5), 0x01020304);
    assert.equal(readU32BE(new Uint8Array(4), 0), 0);
  });
});
