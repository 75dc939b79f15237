import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { StateValue } from '../../membership/types.js';
import {
  decodeRemoval,
  decodeRemovals,
  encodeRemovals,
  REMOVAL_LIMITS,
  type RingRemoval,
  removalKey,
  tokensDigest,
} from './removals.js';

const removal = fc
  .record({
    node: fc.string({ minLength: 1, maxLength: 60 }).filter((s) => new TextEncoder().encode(s).length <= 256),
    digest: fc.integer({ min: 0, max: 0xffffffff }),
    phase: fc.constantFrom<RingRemoval['phase']>('removing', 'removed'),
  })
  .map((r): RingRemoval => ({ ...r }));

describe('ring removals', () => {
  it('round-trip through state values, one key each', () => {
    fc.assert(
      fc.property(fc.array(removal, { maxLength: REMOVAL_LIMITS.maxRemovals }), (list) => {
        const values = encodeRemovals(list);
        assert.equal(values.size, list.length);
        for (const v of values.values()) assert.ok(v.length <= 512, 'fits one membership value');
        assert.deepEqual(
          decodeRemovals((k) => values.get(k)),
          list,
        );
      }),
    );
  });

  it('refuse to announce what they could not carry', () => {
    const ok: RingRemoval = { node: 'n1', digest: 1, phase: 'removed' };
    assert.throws(() => encodeRemovals(Array(REMOVAL_LIMITS.maxRemovals + 1).fill(ok)), RangeError);
    assert.throws(() => encodeRemovals([{ ...ok, node: '' }]), RangeError);
    assert.throws(() => encodeRemovals([{ ...ok, node: 'x'.repeat(257) }]), RangeError);
    assert.throws(() => encodeRemovals([{ ...ok, digest: 2 ** 32 }]), RangeError);
    assert.throws(() => encodeRemovals([{ ...ok, phase: 'gone' as never }]), RangeError);
  });

  it('read malformed values as absent and never throw', () => {
    const good = encodeRemovals([{ node: 'n1', digest: 7, phase: 'removing' }]).get(removalKey(0))!;
    const bad: StateValue[] = [
      'text',
      new Uint8Array(0),
      good.subarray(0, 6), // no name
      Uint8Array.of(2, ...good.subarray(1)), // unknown format
      Uint8Array.of(1, 9, ...good.subarray(2)), // unknown phase
      Uint8Array.of(...good.subarray(0, 6), 0xff, 0xfe), // not UTF-8
      new Uint8Array(6 + 257).fill(1), // name too long
    ];
    for (const v of bad) assert.equal(decodeRemoval(v), undefined);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        decodeRemoval(bytes);
      }),
    );
    const throwing = () => {
      throw new Error('lookup failed');
    };
    assert.deepEqual(decodeRemovals(throwing), []);
  });

  it('digest a token set whatever its order, and tell sets apart', () => {
    const tokens = [5n, 1n << 63n, 17n];
    assert.equal(tokensDigest(tokens), tokensDigest([17n, 5n, 1n << 63n]));
    assert.notEqual(tokensDigest(tokens), tokensDigest([5n, 1n << 63n, 18n]));
    assert.ok(Number.isInteger(tokensDigest([])) && tokensDigest([]) >= 0);
  });
});
