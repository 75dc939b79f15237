import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { base32Decode, base32Encode, base32Length, isCanonicalBase32 } from './base32.js';

describe('base32', () => {
  it('matches the RFC 4648 test vectors (lower case, no padding)', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'my'],
      ['fo', 'mzxq'],
      ['foo', 'mzxw6'],
      ['foob', 'mzxw6yq'],
      ['fooba', 'mzxw6ytb'],
      ['foobar', 'mzxw6ytboi'],
    ];
    for (const [text, encoded] of vectors) {
      assert.equal(base32Encode(Buffer.from(text)), encoded);
      assert.deepEqual(Buffer.from(base32Decode(encoded)!), Buffer.from(text));
    }
  });

  it('round-trips any bytes, with the predicted length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const text = base32Encode(bytes);
        assert.equal(text.length, base32Length(bytes.length));
        assert.deepEqual(base32Decode(text), bytes);
      }),
    );
  });

  it('rejects every non-canonical spelling, so one key has one id', () => {
    assert.equal(base32Decode('MZXW6'), undefined, 'upper case');
    assert.equal(base32Decode('mzxw6==='), undefined, 'padding');
    assert.equal(base32Decode('mzxw1'), undefined, 'a digit outside the alphabet');
    assert.equal(base32Decode('m'), undefined, 'a length no byte count gives');
    assert.equal(base32Decode('mz'), undefined, 'non-zero trailing bits (my is canonical for "f")');
    assert.equal(base32Decode('mzxé6'), undefined, 'non-ASCII');
  });

  it('isCanonicalBase32 says exactly what base32Decode accepts', () => {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
    const canonical = fc.uint8Array({ maxLength: 40 }).map((b) => base32Encode(b));
    // Canonical text with one character changed to any character of the alphabet (often
    // non-canonical trailing bits), arbitrary strings, and strings over the alphabet.
    const mutated = fc
      .tuple(canonical, fc.nat(), fc.constantFrom(...alphabet, 'A', '1', '=', 'é'))
      .map(([t, i, c]) => (t.length === 0 ? c : t.slice(0, i % t.length) + c + t.slice((i % t.length) + 1)));
    const overAlphabet = fc.array(fc.constantFrom(...alphabet), { maxLength: 60 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.oneof(canonical, mutated, overAlphabet, fc.string({ maxLength: 60 })), (text) => {
        assert.equal(isCanonicalBase32(text), base32Decode(text) !== undefined, JSON.stringify(text));
      }),
      { numRuns: 5_000, seed: 7 },
    );
  });
});
