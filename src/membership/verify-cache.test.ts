import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../core/index.js';
import { ed25519Scheme, NodeIdentity, type SignatureScheme } from '../security/index.js';
import { cachingScheme } from './verify-cache.js';

const alice = NodeIdentity.fromSeed(Rng.fromSeed('verify-cache/alice').bytes(32));
const bob = NodeIdentity.fromSeed(Rng.fromSeed('verify-cache/bob').bytes(32));
const data = new TextEncoder().encode('alive: incarnation 3');

/** Ed25519, counting the checks that reach it. */
function counting(): SignatureScheme & { checks: number } {
  const s = {
    name: 'ed25519',
    checks: 0,
    sign: ed25519Scheme.sign,
    verify(node: Parameters<SignatureScheme['verify']>[0], d: Uint8Array, sig: Uint8Array) {
      s.checks++;
      return ed25519Scheme.verify(node, d, sig);
    },
  };
  return s;
}

describe('cachingScheme', () => {
  it('checks a relayed record once', () => {
    const inner = counting();
    const scheme = cachingScheme(inner);
    const signature = ed25519Scheme.sign(alice, data);
    for (let i = 0; i < 5; i++) assert.equal(scheme.verify(alice.nodeId, data, signature), true);
    assert.equal(inner.checks, 1);
    assert.deepEqual(scheme.stats, { hits: 4, misses: 1, failureHits: 0, overBudget: 0 });
  });

  it('treats its own signatures as verified', () => {
    const inner = counting();
    const scheme = cachingScheme(inner);
    const signature = scheme.sign(alice, data);
    assert.equal(scheme.verify(alice.nodeId, data, signature), true);
    assert.equal(inner.checks, 0);
  });

  it('rejects a cached signature replayed over other bytes or in another name', () => {
    const scheme = cachingScheme(ed25519Scheme);
    const signature = ed25519Scheme.sign(alice, data);
    assert.equal(scheme.verify(alice.nodeId, data, signature), true);
    const other = Uint8Array.from(data);
    other[0] = (other[0] ?? 0) ^ 1;
    assert.equal(scheme.verify(alice.nodeId, other, signature), false);
    assert.equal(scheme.verify(bob.nodeId, data, signature), false);
    // The cached entry is not disturbed by the failures.
    assert.equal(scheme.verify(alice.nodeId, data, signature), true);
  });

  it('checks a replayed forgery once, and the same signature over other bytes or names again', () => {
    const inner = counting();
    const scheme = cachingScheme(inner);
    const forged = new Uint8Array(64).fill(7);
    for (let i = 0; i < 5; i++) assert.equal(scheme.verify(alice.nodeId, data, forged), false);
    assert.equal(inner.checks, 1);
    assert.equal(scheme.stats.failureHits, 4);
    // A failure is remembered for its node and bytes only: anything else is checked.
    const genuine = ed25519Scheme.sign(alice, data);
    assert.equal(scheme.verify(alice.nodeId, data, genuine), true);
    assert.equal(scheme.verify(bob.nodeId, data, forged), false);
    assert.equal(scheme.verify(alice.nodeId, new Uint8Array([1]), forged), false);
    assert.equal(inner.checks, 4);
  });

  it('keeps at most maxFailures, and failures never evict verified signatures', () => {
    const inner = counting();
    const scheme = cachingScheme(inner, 1, 2);
    const genuine = ed25519Scheme.sign(alice, data);
    assert.equal(scheme.verify(alice.nodeId, data, genuine), true);
    const forgeries = [1, 2, 3].map((i) => new Uint8Array(64).fill(i));
    for (const f of forgeries) assert.equal(scheme.verify(alice.nodeId, data, f), false);
    assert.equal(inner.checks, 4);
    assert.equal(scheme.verify(alice.nodeId, data, genuine), true, 'still cached');
    assert.equal(scheme.verify(alice.nodeId, data, forgeries[2]!), false);
    assert.equal(scheme.verify(alice.nodeId, data, forgeries[1]!), false);
    assert.equal(inner.checks, 4, 'the two newest failures are remembered');
    assert.equal(scheme.verify(alice.nodeId, data, forgeries[0]!), false);
    assert.equal(inner.checks, 5, 'the oldest was evicted');
  });

  it('under a budget, checks that miss take a token and are refused without one', () => {
    const inner = counting();
    const scheme = cachingScheme(inner);
    const msgs = [1, 2, 3, 4].map((i) => new Uint8Array([i]));
    const sigs = msgs.map((m) => ed25519Scheme.sign(alice, m));
    assert.equal(scheme.verify(alice.nodeId, msgs[0]!, sigs[0]!), true);
    let tokens = 2;
    const budget = { take: () => tokens-- > 0 };
    const results = scheme.charging(budget, () =>
      msgs.map((m, i) => scheme.verify(alice.nodeId, m, sigs[i]!)),
    );
    // The first was a hit (free); two more were checked; the last had no token left.
    assert.deepEqual(results, [true, true, true, false]);
    assert.equal(inner.checks, 3);
    assert.equal(scheme.stats.overBudget, 1);
    // Refused unverified is not remembered as a failure: outside the budget it verifies.
    assert.equal(scheme.verify(alice.nodeId, msgs[3]!, sigs[3]!), true);
    assert.equal(inner.checks, 4);
  });

  it('keeps at most maxEntries, evicting the oldest', () => {
    const inner = counting();
    const scheme = cachingScheme(inner, 2);
    const msgs = [1, 2, 3].map((i) => new Uint8Array([i]));
    const sigs = msgs.map((m) => ed25519Scheme.sign(alice, m));
    for (let i = 0; i < 3; i++) scheme.verify(alice.nodeId, msgs[i]!, sigs[i]!);
    assert.equal(inner.checks, 3);
    scheme.verify(alice.nodeId, msgs[2]!, sigs[2]!);
    scheme.verify(alice.nodeId, msgs[1]!, sigs[1]!);
    assert.equal(inner.checks, 3);
    scheme.verify(alice.nodeId, msgs[0]!, sigs[0]!);
    assert.equal(inner.checks, 4);
  });
});
