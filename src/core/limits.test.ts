import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError } from './errors.js';
import { checkLimit, withLimits } from './limits.js';
import { compareBytes, inRange } from './storage.js';

describe('limits', () => {
  it('rejects values over the limit with LIMIT_EXCEEDED naming the limit', () => {
    checkLimit('maxThings', 3, 3);
    assert.throws(
      () => checkLimit('maxThings', 4, 3, 'queue length'),
      (e) =>
        isCairnError(e, 'LIMIT_EXCEEDED') && /queue length is 4, over the limit maxThings=3/.test(e.message),
    );
  });

  it('merges overrides and rejects unknown or non-positive limits', () => {
    const base = { a: 1, b: 2 };
    assert.deepEqual(withLimits(base, { b: 5 }), { a: 1, b: 5 });
    assert.throws(() => withLimits(base, { c: 1 } as never), /unknown limit "c"/);
    assert.throws(() => withLimits(base, { a: 0 }), /must be a positive number/);
  });
});

describe('storage helpers', () => {
  it('orders bytes unsigned and lexicographically', () => {
    assert.ok(compareBytes(new Uint8Array([1]), new Uint8Array([1, 0])) < 0);
    assert.ok(compareBytes(new Uint8Array([0xff]), new Uint8Array([0x01])) > 0);
    assert.equal(compareBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2])), 0);
    const k = new Uint8Array([5]);
    assert.equal(inRange(k, { gte: new Uint8Array([5]), lt: new Uint8Array([6]) }), true);
    assert.equal(inRange(k, { gt: new Uint8Array([5]) }), false);
  });
});
