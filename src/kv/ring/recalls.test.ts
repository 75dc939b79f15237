import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { StateValue } from '../../membership/types.js';
import {
  decodeDenials,
  decodeRecalls,
  denialKey,
  encodeDenials,
  encodeRecalls,
  RECALL_LIMITS,
  type RingRecall,
  recallKey,
} from './recalls.js';
import { encodeRemovals } from './removals.js';

const recall = fc
  .record({
    node: fc.string({ minLength: 1, maxLength: 60 }).filter((s) => new TextEncoder().encode(s).length <= 256),
    digest: fc.integer({ min: 0, max: 0xffffffff }),
  })
  .map((r) => ({ ...r }));

const lookupIn = (values: ReadonlyMap<string, StateValue>) => (key: string) => values.get(key);

describe('recalls', () => {
  it('round-trip any list up to the limit', () => {
    fc.assert(
      fc.property(fc.array(recall, { maxLength: RECALL_LIMITS.maxRecalls }), (recalls: RingRecall[]) => {
        assert.deepEqual(decodeRecalls(lookupIn(encodeRecalls(recalls))), recalls);
      }),
    );
  });

  it('refuse a caller bug: too many, an empty or over-long name, a digest outside 32 bits', () => {
    const ok = { node: 'x', digest: 1 };
    assert.throws(() => encodeRecalls(Array(RECALL_LIMITS.maxRecalls + 1).fill(ok)), RangeError);
    assert.throws(() => encodeRecalls([{ ...ok, node: '' }]), RangeError);
    assert.throws(() => encodeRecalls([{ ...ok, node: 'x'.repeat(257) }]), RangeError);
    assert.throws(() => encodeRecalls([{ ...ok, digest: -1 }]), RangeError);
  });

  it('skip malformed slots, foreign values and a lookup that throws, and never throw', () => {
    const values = new Map<string, StateValue>(encodeRecalls([{ node: 'a', digest: 7 }]));
    values.set(recallKey(1), Uint8Array.of(1, 0, 0, 0, 0)); // no name
    values.set(recallKey(2), Uint8Array.of(2, 0, 0, 0, 0, 0, 0x61)); // unknown format
    values.set(recallKey(3), Uint8Array.of(1, 0, 0, 0, 0, 0, 0xff)); // not UTF-8
    values.set(recallKey(4), 'text' as never);
    // A removal's note under a recall key carries another tag: not a recall.
    values.set(recallKey(5), encodeRemovals([{ node: 'b', digest: 1, phase: 'removed' }]).get('kv.rm.0')!);
    assert.deepEqual(decodeRecalls(lookupIn(values)), [{ node: 'a', digest: 7 }]);
    assert.deepEqual(
      decodeRecalls(() => {
        throw new Error('broken view');
      }),
      [],
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        decodeRecalls((key) => (key === recallKey(0) ? bytes : undefined));
      }),
    );
  });

  it('denials round-trip up to their limit, under their own keys, apart from recalls', () => {
    fc.assert(
      fc.property(fc.array(recall, { maxLength: RECALL_LIMITS.maxDenials }), (denials: RingRecall[]) => {
        const values = encodeDenials(denials);
        assert.deepEqual(decodeDenials(lookupIn(values)), denials);
        assert.deepEqual(decodeRecalls(lookupIn(values)), [], 'a denial is not a recall');
      }),
    );
    const values = new Map<string, StateValue>(encodeRecalls([{ node: 'a', digest: 1 }]));
    assert.deepEqual(decodeDenials(lookupIn(values)), [], 'a recall is not a denial');
    values.set(denialKey(0), Uint8Array.of(1, 0, 0, 0, 0)); // no name
    values.set(denialKey(1), encodeDenials([{ node: 'b', digest: 2 }]).get(denialKey(0))!);
    assert.deepEqual(decodeDenials(lookupIn(values)), [{ node: 'b', digest: 2 }]);
    assert.throws(
      () => encodeDenials(Array(RECALL_LIMITS.maxDenials + 1).fill({ node: 'x', digest: 1 })),
      RangeError,
    );
  });
});
