import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { slabBytes } from './bytes.js';

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
