/**
 * Ring adverts in membership state: round trip, chunking under 512 bytes, torn and hostile input.
 * Run: node --import tsx --test src/kv/ring/advert.test.ts
 * Property seeds: the seed is printed on failure; replay with FC_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Rng } from '../../core/index.js';
import type { StateValue } from '../../membership/types.js';
import type { RingNode } from '../types.js';
import { ADVERT_LIMITS, decodeRingAdvert, encodeRingAdvert, RING_STATE_PREFIX } from './advert.js';
import { MAX_TOKEN } from './partitioner.js';
import { randomTokens } from './ring.js';

const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);
const params = { seed, numRuns: 200 };

const advertArb: fc.Arbitrary<Omit<RingNode, 'name'>> = fc
  .record({
    tokens: fc.uniqueArray(fc.bigInt({ min: 0n, max: MAX_TOKEN }), { maxLength: 256 }),
    status: fc.constantFrom('joining' as const, 'normal' as const, 'leaving' as const),
    resp: fc.option(fc.string({ minLength: 1, maxLength: 60 }), { nil: undefined }),
  })
  .map((r) =>
    r.resp === undefined
      ? { tokens: r.tokens, status: r.status }
      : { tokens: r.tokens, status: r.status, resp: r.resp },
  );

const lookup = (m: ReadonlyMap<string, StateValue>) => (k: string) => m.get(k);

describe('ring advert', () => {
  it('round-trips through values of at most 512 bytes under kv.* keys', () => {
    fc.assert(
      fc.property(advertArb, (node) => {
        const values = encodeRingAdvert(node);
        for (const [k, value] of values) {
          assert.ok(k.startsWith(RING_STATE_PREFIX));
          assert.ok(value.length <= ADVERT_LIMITS.maxValueBytes);
        }
        assert.deepEqual(decodeRingAdvert(lookup(values)), node);
      }),
      params,
    );
  });

  it('needs five chunks for 256 tokens', () => {
    const tokens = randomTokens(Rng.fromSeed(3), 256, new Set());
    const values = encodeRingAdvert({ tokens, status: 'normal', resp: '127.0.0.1:6380' });
    assert.deepEqual([...values.keys()], ['kv.0', 'kv.1', 'kv.2', 'kv.3', 'kv.4']);
  });

  it('reads a torn advert (chunks of two versions) as absent', () => {
    const tokens = randomTokens(Rng.fromSeed(4), 200, new Set());
    const joining = encodeRingAdvert({ tokens, status: 'joining' });
    const normal = encodeRingAdvert({ tokens, status: 'normal' });
    const torn = new Map(joining);
    torn.set('kv.0', normal.get('kv.0')!);
    assert.equal(decodeRingAdvert(lookup(torn)), undefined);
    const missing = new Map(normal);
    missing.delete('kv.2');
    assert.equal(decodeRingAdvert(lookup(missing)), undefined);
    assert.equal(
      decodeRingAdvert(() => undefined),
      undefined,
    );
    assert.equal(
      decodeRingAdvert(() => 'a string'),
      undefined,
    );
    assert.equal(
      decodeRingAdvert(() => {
        throw new Error('boom');
      }),
      undefined,
    );
  });

  it('never throws and never accepts a changed byte (random corruption)', () => {
    fc.assert(
      fc.property(advertArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (node, at, xor) => {
        const values = encodeRingAdvert(node);
        const keys = [...values.keys()];
        const key = keys[at % keys.length]!;
        const bytes = new Uint8Array(values.get(key)!);
        bytes[(at >>> 3) % bytes.length]! ^= xor;
        values.set(key, bytes);
        const out = decodeRingAdvert(lookup(values));
        // A 4-byte digest lets through one corruption in 2^32; deepEqual here would flag it.
        if (out !== undefined) assert.deepEqual(out, node);
      }),
      params,
    );
  });

  it('survives arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 10 }), (chunks) => {
        const values = new Map(chunks.map((c, i) => [`kv.${i}`, c] as const));
        const out = decodeRingAdvert(lookup(values));
        if (out !== undefined) assert.ok(out.tokens.length <= 256);
      }),
      params,
    );
  });
});
