import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allocBytes, copyBytes } from './bytes.js';

describe('allocBytes and copyBytes', () => {
  it('give plain Uint8Arrays of the asked length that do not overlap', () => {
    const a = allocBytes(20);
    const b = allocBytes(20);
    assert.equal(Object.getPrototypeOf(a), Uint8Array.prototype);
    assert.equal(a.length, 20);
    a.fill(1);
    b.fill(2);
    assert.deepEqual([...a], new Array(20).fill(1));
    assert.equal(a.byteOffset + 20 <= a.buffer.byteLength, true);
  });

  it('copies bytes that no longer follow the source', () => {
    const src = Uint8Array.of(1, 2, 3);
    const copy = copyBytes(src);
    src[0] = 9;
    assert.deepEqual(copy, Uint8Array.of(1, 2, 3));
    assert.deepEqual(copyBytes(new Uint8Array(0)), new Uint8Array(0));
    const big = copyBytes(new Uint8Array(100_000).fill(7));
    assert.equal(big.length, 100_000);
    assert.equal(big[99_999], 7);
  });
});
