import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prefixRangeEnd, rangeInsidePrefix } from './auth.js';

const b = (s: string) => new TextEncoder().encode(s);

describe('prefix ranges', () => {
  it('computes etcd’s prefix range end', () => {
    assert.deepEqual(prefixRangeEnd(b('app1/')), b('app10'));
    assert.deepEqual(prefixRangeEnd(Uint8Array.of(0x61, 0xff)), Uint8Array.of(0x62));
    assert.deepEqual(prefixRangeEnd(Uint8Array.of(0xff)), Uint8Array.of(0));
  });

  it('puts a range inside a prefix only when both ends are', () => {
    const p = b('app1/');
    assert.equal(rangeInsidePrefix(b('app1/x'), undefined, p), true);
    assert.equal(rangeInsidePrefix(b('app1/'), b('app10'), p), true);
    assert.equal(rangeInsidePrefix(b('app1/a'), b('app1/b'), p), true);
    assert.equal(rangeInsidePrefix(b('app1/'), b('app2'), p), false);
    assert.equal(rangeInsidePrefix(b('app1/'), Uint8Array.of(0), p), false);
    assert.equal(rangeInsidePrefix(b('app2/x'), undefined, p), false);
    assert.equal(rangeInsidePrefix(b('app'), b('app1/z'), p), false);
    assert.equal(rangeInsidePrefix(b('anything'), Uint8Array.of(0), new Uint8Array(0)), true);
  });
});
