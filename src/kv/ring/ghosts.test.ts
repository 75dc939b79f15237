import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { StateValue } from '../../membership/types.js';
import type { RingNode, Token } from '../types.js';
import { decodeGhost, decodeGhosts, encodeGhosts, GHOST_LIMITS, ghostPrefix } from './ghosts.js';

const token = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) as fc.Arbitrary<Token>;

const ghost = fc
  .record({
    name: fc.string({ minLength: 1, maxLength: 60 }).filter((s) => new TextEncoder().encode(s).length <= 255),
    tokens: fc.uniqueArray(token, { minLength: 1, maxLength: 256 }),
    status: fc.constantFrom<RingNode['status']>('normal', 'leaving', 'joining'),
    resp: fc.option(fc.constantFrom('127.0.0.1:6380', 'host.example:6379'), { nil: undefined }),
  })
  .map(
    (g): RingNode =>
      g.resp === undefined
        ? { name: g.name, tokens: g.tokens, status: g.status }
        : { name: g.name, tokens: g.tokens, status: g.status, resp: g.resp },
  );

describe('ring ghosts', () => {
  it('round-trip through state values of at most 512 bytes', () => {
    fc.assert(
      fc.property(fc.array(ghost, { maxLength: GHOST_LIMITS.maxGhosts }), (list) => {
        const values = encodeGhosts(list);
        for (const v of values.values()) assert.ok(v.length <= 512, 'fits one membership value');
        assert.deepEqual(
          decodeGhosts((k) => values.get(k)),
          list,
        );
      }),
      { numRuns: 50 },
    );
  });

  it('refuse to announce what they could not carry', () => {
    const ok: RingNode = { name: 'n1', tokens: [1n as Token], status: 'normal' };
    assert.throws(() => encodeGhosts(Array(GHOST_LIMITS.maxGhosts + 1).fill(ok)), RangeError);
    assert.throws(() => encodeGhosts([{ ...ok, name: '' }]), RangeError);
    assert.throws(() => encodeGhosts([{ ...ok, name: 'x'.repeat(256) }]), RangeError);
  });

  it('read torn, malformed or empty ghosts as absent and never throw', () => {
    const big: RingNode = {
      name: 'n1',
      tokens: Array.from({ length: 200 }, (_, i) => BigInt(i) as Token),
      status: 'normal',
    };
    const a = encodeGhosts([big]);
    const b = encodeGhosts([{ ...big, tokens: big.tokens.map((t) => (t + 1000n) as Token) }]);
    // Chunk 0 of one ghost with chunk 1 of another: the digests disagree.
    const torn = new Map(a);
    torn.set(`${ghostPrefix(0)}1`, b.get(`${ghostPrefix(0)}1`)!);
    assert.equal(
      decodeGhost((k) => torn.get(k), 0),
      undefined,
    );
    const lookups: ((k: string) => StateValue | undefined)[] = [
      () => 'text',
      () => new Uint8Array(0),
      () => {
        throw new Error('lookup failed');
      },
    ];
    for (const l of lookups) assert.deepEqual(decodeGhosts(l), []);
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 3 }), (chunks) => {
        const values = new Map(chunks.map((c, i) => [`${ghostPrefix(0)}${i}`, c]));
        decodeGhost((k) => values.get(k), 0);
      }),
    );
  });
});
