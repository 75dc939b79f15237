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
    assert.deepEqual(scheme.stats, { hits: 4, misses: 1 });
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

  it('does not cache failures', () => {
    const inner = counting();
    const scheme = cachingScheme(inner);
    const forged = new Uint8Array(64).fill(7);
    assert.equal(scheme.verify(alice.nodeId, data, forged), false);
    assert.equal(scheme.verify(alice.nodeId, data, forged), false);
    assert.equal(inner.checks, 2);
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
