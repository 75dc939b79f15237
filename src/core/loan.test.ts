import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError } from './errors.js';
import { loanStats, POISON_BYTE, recycleBytes, takeBytes } from './loan.js';

describe('takeBytes / recycleBytes', () => {
  it('hands out arrays of the length asked for, and again after they come back', () => {
    for (const length of [0, 1, 127, 128, 129, 1400, 16_384, 100_000, 3_000_000]) {
      const a = takeBytes(length);
      assert.equal(a.length, length);
      assert.equal(a.byteOffset, 0);
      a.fill(7);
      const before = loanStats.reused;
      assert.equal(recycleBytes(a), true);
      // Given back: its bytes are poisoned, and the next array of its class is the same memory.
      assert.ok(a.every((b) => b === POISON_BYTE));
      const b = takeBytes(length);
      assert.equal(b.buffer, a.buffer);
      assert.equal(loanStats.reused, before + 1);
      assert.equal(recycleBytes(b), true);
    }
  });

  it('leaves alone arrays it did not hand out, and views into its own', () => {
    assert.equal(recycleBytes(new Uint8Array(64)), false);
    assert.equal(recycleBytes(Buffer.alloc(300)), false);
    const a = takeBytes(500);
    a.fill(1);
    assert.equal(recycleBytes(a.subarray(1)), false);
    assert.equal(a[1], 1, 'a refused view must not be poisoned');
    assert.equal(recycleBytes(a), true);
  });

  it('refuses an array given back twice', () => {
    const a = takeBytes(2000);
    assert.equal(recycleBytes(a), true);
    assert.throws(
      () => recycleBytes(a),
      (err: unknown) => isCairnError(err) && err.code === 'INTERNAL',
    );
    // Still usable: the free list holds it once.
    const b = takeBytes(2000);
    const c = takeBytes(2000);
    assert.notEqual(b.buffer, c.buffer);
    recycleBytes(b);
    recycleBytes(c);
  });

  it('gives plain arrays above its largest class', () => {
    const big = takeBytes(9 * 1024 * 1024);
    assert.equal(big.length, 9 * 1024 * 1024);
    assert.equal(recycleBytes(big), false);
  });

  it('rejects a bad length', () => {
    assert.throws(
      () => takeBytes(-1),
      (err: unknown) => isCairnError(err) && err.code === 'INVALID_ARGUMENT',
    );
    assert.throws(
      () => takeBytes(1.5),
      (err: unknown) => isCairnError(err) && err.code === 'INVALID_ARGUMENT',
    );
  });
});
