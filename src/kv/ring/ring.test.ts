/**
 * The token ring against a naive oracle, and its placement properties: min(rf, nodes) distinct
 * replicas per token, ranges that partition the ring, joins that move only what the new node takes,
 * pending replicas during joins and leaves.
 * Run: node --import tsx --test src/kv/ring/ring.test.ts
 * Property seeds: the seed is printed on failure; replay with FC_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isCairnError, Rng } from '../../core/index.js';
import type { RingNode, RingNodeStatus, Token } from '../types.js';
import { inTokenRange, MAX_TOKEN, RING_SIZE, rangeWidth } from './partitioner.js';
import { Ring, randomTokens } from './ring.js';

const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);
const replay = `FC_SEED=${seed} node --import tsx --test src/kv/ring/ring.test.ts`;
const params = { seed, numRuns: 200 };

/** Tokens from a small space (collisions, adjacent tokens) or the whole ring. */
const tokenArb = fc.oneof(fc.bigInt({ min: 0n, max: 64n }), fc.bigInt({ min: 0n, max: MAX_TOKEN }));

function nodesArb(statuses: readonly RingNodeStatus[] = ['normal']): fc.Arbitrary<RingNode[]> {
  return fc
    .uniqueArray(fc.integer({ min: 0, max: 40 }), { minLength: 0, maxLength: 8 })
    .chain((ids) =>
      fc.tuple(
        ...ids.map((id) =>
          fc.record({
            name: fc.constant(`n${id}`),
            tokens: fc.uniqueArray(tokenArb, { minLength: 1, maxLength: 6 }),
            status: fc.constantFrom(...statuses),
          }),
        ),
      ),
    )
    .map((nodes) => nodes as RingNode[]);
}

/** The oracle: sort every (token, owner) with the lower name winning, walk clockwise. */
function naiveReplicas(
  nodes: readonly RingNode[],
  rf: number,
  t: Token,
  admit: (s: RingNodeStatus) => boolean,
): string[] {
  const owner = new Map<Token, RingNode>();
  for (const n of [...nodes].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const tok of n.tokens) if (!owner.has(tok)) owner.set(tok, n);
  }
  const ring = [...owner.entries()].filter(([, n]) => admit(n.status)).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  if (ring.length === 0) return [];
  let i = ring.findIndex(([tok]) => tok >= t);
  if (i < 0) i = 0;
  const out: string[] = [];
  for (let step = 0; step < ring.length; step++) {
    const name = ring[(i + step) % ring.length]![1].name;
    if (!out.includes(name) && out.length < rf) out.push(name);
  }
  return out;
}

const current = (s: RingNodeStatus) => s !== 'joining';
const future = (s: RingNodeStatus) => s !== 'leaving';

function probes(ring: Ring, extra: readonly Token[]): Token[] {
  const out = [...extra, 0n, MAX_TOKEN];
  for (const { token } of ring.tokenOwners()) {
    out.push(token);
    if (token > 0n) out.push(token - 1n);
    if (token < MAX_TOKEN) out.push(token + 1n);
  }
  return out;
}

describe('Ring', () => {
  it(`matches the naive oracle for replicas, pending and future replicas (${replay})`, () => {
    fc.assert(
      fc.property(
        nodesArb(['normal', 'normal', 'joining', 'leaving']),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.bigInt({ min: 0n, max: MAX_TOKEN }), { maxLength: 8 }),
        (nodes, rf, extra) => {
          const ring = Ring.build(nodes, rf);
          for (const t of probes(ring, extra)) {
            const now = naiveReplicas(nodes, rf, t, current);
            const later = naiveReplicas(nodes, rf, t, future);
            assert.deepEqual([...ring.replicas(t)], now);
            assert.deepEqual([...ring.futureReplicas(t)], later);
            assert.deepEqual(
              [...ring.pending(t)],
              later.filter((n) => !now.includes(n)),
            );
          }
        },
      ),
      params,
    );
  });

  it('gives every token min(rf, serving nodes with tokens) distinct replicas', () => {
    fc.assert(
      fc.property(
        nodesArb(),
        fc.integer({ min: 1, max: 5 }),
        fc.bigInt({ min: 0n, max: MAX_TOKEN }),
        (nodes, rf, t) => {
          const ring = Ring.build(nodes, rf);
          const owners = new Set(ring.tokenOwners().map((o) => o.name));
          const replicas = ring.replicas(t);
          assert.equal(new Set(replicas).size, replicas.length);
          assert.equal(replicas.length, Math.min(rf, owners.size));
        },
      ),
      params,
    );
  });

  it('has ranges that cover the ring exactly once, with constant replicas inside each', () => {
    fc.assert(
      fc.property(nodesArb(['normal', 'joining', 'leaving']), fc.integer({ min: 1, max: 4 }), (nodes, rf) => {
        const ring = Ring.build(nodes, rf);
        const ranges = ring.ranges();
        const tokens = ring.tokenOwners().map((o) => o.token);
        assert.equal(ranges.length, tokens.length);
        if (ranges.length === 0) return;
        let total = 0n;
        for (let i = 0; i < ranges.length; i++) {
          const r = ranges[i]!;
          assert.equal(r.start, ranges[(i + ranges.length - 1) % ranges.length]!.end);
          total += rangeWidth(r);
          // Replicas at the first and last token of the range are the same.
          const first = (r.start + 1n) % RING_SIZE;
          assert.ok(inTokenRange(first, r));
          assert.deepEqual(ring.replicas(first), ring.replicas(r.end));
          assert.deepEqual(ring.pending(first), ring.pending(r.end));
        }
        assert.equal(total, RING_SIZE);
      }),
      params,
    );
  });

  it('gives each range to exactly min(rf, nodes) nodes through rangesOf', () => {
    fc.assert(
      fc.property(nodesArb(), fc.integer({ min: 1, max: 4 }), (nodes, rf) => {
        const ring = Ring.build(nodes, rf);
        const counts = new Map<string, number>();
        for (const n of ring.info().nodes) {
          for (const r of ring.rangesOf(n.name)) {
            assert.ok(ring.replicas(r.end).includes(n.name));
            const key = `${r.start}:${r.end}`;
            counts.set(key, (counts.get(key) ?? 0) + 1);
          }
          assert.deepEqual(ring.futureRangesOf(n.name), ring.rangesOf(n.name)); // no pending change
        }
        const owners = new Set(ring.tokenOwners().map((o) => o.name)).size;
        for (const r of ring.ranges()) assert.equal(counts.get(`${r.start}:${r.end}`), Math.min(rf, owners));
      }),
      params,
    );
  });

  it('moves only the ranges a new node takes when it joins', () => {
    fc.assert(
      fc.property(
        nodesArb(),
        fc.uniqueArray(tokenArb, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.bigInt({ min: 0n, max: MAX_TOKEN }), { maxLength: 8 }),
        (nodes, tokens, rf, extra) => {
          const before = Ring.build(nodes, rf);
          const joining = Ring.build([...nodes, { name: 'zz-new', tokens, status: 'joining' }], rf);
          const after = Ring.build([...nodes, { name: 'zz-new', tokens, status: 'normal' }], rf);
          for (const t of probes(after, extra)) {
            const old = before.replicas(t);
            // No data moves between existing nodes: every new replica other than the newcomer
            // already held the token.
            for (const n of after.replicas(t))
              assert.ok(n === 'zz-new' || old.includes(n), `${n} gained ${t}`);
            // While joining, the serving replicas are unchanged and only the newcomer is pending.
            assert.deepEqual(joining.replicas(t), old);
            for (const n of joining.pending(t)) assert.equal(n, 'zz-new');
            assert.deepEqual(joining.futureReplicas(t), after.replicas(t));
          }
        },
      ),
      params,
    );
  });

  it('keeps a leaving node serving and hands its ranges to pending nodes', () => {
    fc.assert(
      fc.property(nodesArb(), fc.integer({ min: 1, max: 4 }), fc.nat(), (nodes, rf, pick) => {
        fc.pre(nodes.length > 0);
        // Distinct tokens: a contested token changes hands by name when its holder leaves, which
        // the duplicate-token test covers.
        const all = nodes.flatMap((n) => n.tokens);
        fc.pre(new Set(all).size === all.length);
        const leaver = nodes[pick % nodes.length]!.name;
        const normal = Ring.build(nodes, rf);
        const leaving = Ring.build(
          nodes.map((n) => (n.name === leaver ? { ...n, status: 'leaving' as const } : n)),
          rf,
        );
        const gone = Ring.build(
          nodes.filter((n) => n.name !== leaver),
          rf,
        );
        for (const t of probes(normal, [])) {
          assert.deepEqual(leaving.replicas(t), normal.replicas(t));
          assert.deepEqual(leaving.futureReplicas(t), gone.replicas(t));
          assert.ok(!leaving.pending(t).includes(leaver));
        }
        assert.deepEqual(leaving.futureRangesOf(leaver), []);
      }),
      params,
    );
  });

  it('builds the same ring whatever the order of nodes; the lower name keeps a contested token', () => {
    const a: RingNode = { name: 'a', tokens: [5n, 100n], status: 'normal' };
    const b: RingNode = { name: 'b', tokens: [5n, 50n], status: 'normal', resp: '127.0.0.1:6380' };
    const r1 = Ring.build([a, b], 2);
    const r2 = Ring.build([b, a], 2);
    assert.deepEqual(r1.info(), r2.info());
    assert.deepEqual(r1.info().nodes.find((n) => n.name === 'b')?.tokens, [50n]);
    assert.equal(r1.info().nodes.find((n) => n.name === 'b')?.resp, '127.0.0.1:6380');
    assert.deepEqual(r1.replicas(5n), ['a', 'b']);
    assert.deepEqual(r1.replicas(6n), ['b', 'a']);
    assert.deepEqual(r1.replicas(101n), ['a', 'b']);
    assert.deepEqual(r1.ranges(), [
      { start: 100n, end: 5n },
      { start: 5n, end: 50n },
      { start: 50n, end: 100n },
    ]);
  });

  it('handles empty and single-token rings', () => {
    const empty = Ring.build([], 3);
    assert.deepEqual(empty.replicas(1n), []);
    assert.deepEqual(empty.pending(1n), []);
    assert.deepEqual(empty.ranges(), []);
    const one = Ring.build([{ name: 'a', tokens: [7n], status: 'normal' }], 3);
    assert.deepEqual(one.ranges(), [{ start: 7n, end: 7n }]);
    assert.deepEqual(one.replicas(MAX_TOKEN), ['a']);
    assert.deepEqual(one.rangesOf('a'), [{ start: 7n, end: 7n }]);
    const joining = Ring.build([{ name: 'a', tokens: [7n], status: 'joining' }], 3);
    assert.deepEqual(joining.replicas(1n), []);
    assert.deepEqual(joining.pending(1n), ['a']);
  });

  it('refuses hostile input with INVALID_ARGUMENT', () => {
    const bad =
      (nodes: unknown[], rf = 3) =>
      () =>
        Ring.build(nodes as RingNode[], rf);
    const ok = { name: 'a', tokens: [1n], status: 'normal' };
    const cases: Array<() => Ring> = [
      bad([ok], 0),
      bad([ok], 17),
      bad([ok], 1.5),
      bad([{ ...ok, name: '' }]),
      bad([ok, ok]),
      bad([{ ...ok, status: 'gone' }]),
      bad([{ ...ok, tokens: [-1n] }]),
      bad([{ ...ok, tokens: [RING_SIZE] }]),
      bad([{ ...ok, tokens: [1] }]),
      bad([{ ...ok, tokens: Array.from({ length: 257 }, (_, i) => BigInt(i)) }]),
      bad([{ ...ok, name: 'x'.repeat(300) }]),
      bad(Array.from({ length: 1025 }, (_, i) => ({ ...ok, name: `n${i}`, tokens: [BigInt(i)] }))),
    ];
    for (const c of cases) assert.throws(c, (e) => isCairnError(e, 'INVALID_ARGUMENT'));
  });
});

describe('randomTokens', () => {
  it('draws distinct tokens outside the taken set, reproducibly from the seed', () => {
    const taken = new Set(randomTokens(Rng.fromSeed(1), 16, new Set()));
    const fresh = randomTokens(Rng.fromSeed(1), 16, taken);
    assert.equal(new Set(fresh).size, 16);
    for (const t of fresh) assert.ok(!taken.has(t) && t >= 0n && t <= MAX_TOKEN);
    assert.deepEqual(
      randomTokens(Rng.fromSeed(2), 4, new Set()),
      randomTokens(Rng.fromSeed(2), 4, new Set()),
    );
    assert.throws(
      () => randomTokens(Rng.fromSeed(1), 257, new Set()),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
  });

  it('balances load within a factor of two with 16 tokens on 5 nodes', () => {
    const rng = Rng.fromSeed(7);
    const nodes: RingNode[] = [];
    const taken = new Set<Token>();
    for (let i = 0; i < 5; i++) {
      const tokens = randomTokens(rng, 16, taken);
      for (const t of tokens) taken.add(t);
      nodes.push({ name: `n${i}`, tokens, status: 'normal' });
    }
    const ring = Ring.build(nodes, 3);
    const share = nodes.map((n) => ring.rangesOf(n.name).reduce((s, r) => s + rangeWidth(r), 0n));
    const ideal = (RING_SIZE * 3n) / 5n;
    for (const s of share) assert.ok(s > ideal / 2n && s < ideal * 2n);
  });
});
