import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Fnv64 } from './hash.js';

/** Reference FNV-1a 64 with BigInt: the oracle for the limb arithmetic. */
function fnv64Reference(bytes: readonly number[]): string {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

describe('Fnv64', () => {
  it('matches the published FNV-1a 64 test vectors', () => {
    assert.equal(new Fnv64().hex(), 'cbf29ce484222325');
    const a = new Fnv64().byte(0x61); // "a"
    assert.equal(a.hex(), 'af63dc4c8601ec8c');
  });

  it('agrees with a BigInt reference on random input, byte by byte and through bytes()', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 300 }), (bytes) => {
        const h = new Fnv64();
        for (const b of bytes) h.byte(b);
        assert.equal(h.hex(), fnv64Reference(bytes));
        // bytes() mixes the length as a little-endian word first, then the bytes on its fast path.
        const n = bytes.length;
        const framed = [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24, ...bytes];
        assert.equal(new Fnv64().bytes(Uint8Array.from(bytes)).hex(), fnv64Reference(framed));
      }),
    );
  });
});
