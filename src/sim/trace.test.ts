import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { payloadLanes } from './trace.js';

function lanes(data: Uint8Array): string {
  const out = new Uint32Array(2);
  payloadLanes(data, out);
  return `${out[0]}:${out[1]}`;
}

describe('payloadLanes', () => {
  it('is a function of the bytes only (views at any offset agree)', () => {
    // From 256 bytes, views at a 4-byte offset take the word-at-a-time path; others do not.
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 250, maxLength: 600 })),
        fc.nat(7),
        (bytes, pad) => {
          const big = new Uint8Array(bytes.length + pad);
          big.set(bytes, pad);
          assert.equal(lanes(big.subarray(pad)), lanes(bytes));
        },
      ),
    );
  });

  it('changes when any one byte changes, in the words and in the tail', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, at, delta) => {
          const i = at % bytes.length;
          const other = bytes.slice();
          other[i] = (other[i]! + delta) & 0xff;
          assert.notEqual(lanes(other), lanes(bytes));
        },
      ),
    );
  });

  it('tells a trailing zero byte from none', () => {
    assert.notEqual(lanes(new Uint8Array([1, 2, 3])), lanes(new Uint8Array([1, 2, 3, 0])));
  });
});
