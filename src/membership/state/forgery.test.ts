import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode, Rng } from '../../core/index.js';
import { ed25519Scheme, signRecord } from '../../security/index.js';
import type { ScuttlebuttState } from './cluster-state.js';
import { exchange, identities, makeNode, wire } from './harness.test-helper.js';
import type { NodeDelta } from './messages.js';

const N = 12;

function cluster(): { nodes: ScuttlebuttState[]; ids: ReturnType<typeof identities>; rng: Rng } {
  const ids = identities(N + 1, 'forgery');
  const nodes = ids.slice(0, N).map((id) => makeNode(id, 1, ed25519Scheme));
  for (const [i, n] of nodes.entries()) n.set('role', `r${i}`);
  const rng = Rng.fromSeed('forgery-loop');
  for (let round = 0; round < 30; round++) {
    for (let i = 0; i < N; i++) exchange(nodes[i]!, nodes[(i + 1 + rng.int(N - 1)) % N]!, round * 1000, rng);
  }
  for (const n of nodes) for (let o = 0; o < N; o++) assert.equal(n.get(ids[o]!.nodeId, 'role'), `r${o}`);
  return { nodes, ids, rng };
}

test('forged records (another signer, altered payload, missing signature) are rejected on every receiver', () => {
  const { nodes, ids } = cluster();
  const victim = ids[0]!.nodeId;
  const mallory = ids[N]!; // not a member, but could as well be one
  const genuine = nodes[0]!.entry(victim, 'role')!.record;
  const byMallory = signRecord(
    mallory,
    50,
    encode({ type: 'kv', generation: 1, key: 'role', value: 'pwned' }),
    ed25519Scheme,
  );
  const forged: NodeDelta = {
    node: victim,
    generation: 1,
    fromVersion: 1,
    maxVersion: 52,
    gcVersion: 0,
    heartbeat: undefined,
    records: [
      { version: 50, payload: byMallory.payload, signature: byMallory.signature },
      {
        version: 51,
        payload: encode({ type: 'kv', generation: 1, key: 'admin', value: 'mallory' }),
        signature: genuine.signature,
      },
      {
        version: 52,
        payload: encode({ type: 'kv', generation: 1, key: 'x', value: 'y' }),
        signature: new Uint8Array(0),
      },
    ],
  };
  // Delivered as part of an otherwise normal Ack, as if an honest node relayed it.
  for (let i = 1; i < N; i++) {
    const events = nodes[i]!.handleAck(wire({ type: 'Ack', delta: [forged] }), 0).events;
    assert.equal(events.length, 0, `node ${i} applied something forged`);
    assert.equal(nodes[i]!.stats.rejected.forged, 2, `node ${i} forged count`);
    assert.equal(nodes[i]!.stats.rejected.unsigned, 1, `node ${i} unsigned count`);
    assert.equal(nodes[i]!.get(victim, 'role'), 'r0');
    assert.equal(nodes[i]!.get(victim, 'admin'), undefined);
    assert.equal(
      nodes[i]!.nodeInfo(victim)?.maxVersion,
      1,
      'a section with forged records does not move the watermark',
    );
  }
  // And through the eager push path.
  assert.equal(nodes[1]!.applyRecord({ ...byMallory, node: victim }, 0).length, 0);
  assert.equal(nodes[1]!.stats.rejected.forged, 3);
});

test('a forged record injected into one honest node never spreads', () => {
  const { nodes, ids, rng } = cluster();
  const victim = ids[0]!.nodeId;
  const fake = signRecord(
    ids[N]!,
    9,
    encode({ type: 'kv', generation: 1, key: 'role', value: 'pwned' }),
    ed25519Scheme,
  );
  nodes[5]!.applyRecord({ ...fake, node: victim }, 0);
  assert.equal(nodes[5]!.stats.rejected.forged, 1);
  nodes[0]!.set('role', 'r0-new');
  for (let round = 0; round < 30; round++) {
    for (let i = 0; i < N; i++)
      exchange(nodes[i]!, nodes[(i + 1 + rng.int(N - 1)) % N]!, 50_000 + round * 1000, rng);
  }
  for (const n of nodes) {
    assert.equal(n.get(victim, 'role'), 'r0-new');
    assert.equal(n.stats.rejected.forged, n === nodes[5] ? 1 : 0);
  }
});
