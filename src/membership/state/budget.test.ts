import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Rng } from '../../core/index.js';
import { type NodeId, type SignatureScheme, simulatedScheme } from '../../security/index.js';
import { ScuttlebuttState } from './cluster-state.js';
import { exchange, identities } from './harness.test-helper.js';

/**
 * What a node keeps of other nodes' state: only state of nodes its driver vouches for (SWIM's live
 * members), and at most `maxStateBytes` of records in all.
 */

const ids = identities(6, 'state-budget');
const rng = Rng.fromSeed('state-budget');

/** The simulated scheme, counting the checks that reach it. */
function counting(): SignatureScheme & { checks: number } {
  const s = {
    name: simulatedScheme.name,
    checks: 0,
    sign: simulatedScheme.sign,
    verify(node: NodeId, data: Uint8Array, signature: Uint8Array) {
      s.checks++;
      return simulatedScheme.verify(node, data, signature);
    },
  };
  return s;
}

function node(
  i: number,
  options: { vouch?: (node: NodeId) => boolean; maxStateBytes?: number; scheme?: SignatureScheme } = {},
  generation = 1,
): ScuttlebuttState {
  return new ScuttlebuttState({
    identity: ids[i]!,
    generation,
    scheme: options.scheme ?? simulatedScheme,
    rng: Rng.fromSeed(`state-budget/${i}/${generation}`),
    ...(options.vouch === undefined ? {} : { vouch: options.vouch }),
    ...(options.maxStateBytes === undefined ? {} : { limits: { maxStateBytes: options.maxStateBytes } }),
  });
}

test('state of a node nobody vouches for is refused unverified, and a forgotten node is not re-imported', () => {
  const members = new Set<NodeId>([ids[1]!.nodeId]);
  const scheme = counting();
  const receiver = node(0, { vouch: (n) => members.has(n), scheme });
  const member = node(1);
  const minted = node(2);
  member.set('role', 'db');
  for (let k = 0; k < 20; k++) minted.set(`k${k}`, 'x'.repeat(100));

  exchange(minted, receiver, 0, rng);
  exchange(receiver, minted, 0, rng);
  assert.equal(receiver.nodeInfo(minted.self), undefined, 'the minted node holds nothing here');
  assert.ok(receiver.stats.rejected.unvouched > 0);
  const before = scheme.checks;
  for (const e of minted.set('late', 'y')) if (e.type === 'localRecord') receiver.applyRecord(e.record, 0);
  assert.equal(scheme.checks, before, 'an unvouched record costs no signature check');

  exchange(member, receiver, 0, rng);
  assert.equal(receiver.get(member.self, 'role'), 'db', 'a member state is taken');
  // The member is reaped: forgotten, and no longer vouched for. Its state does not come back.
  members.delete(member.self);
  receiver.forget(member.self);
  exchange(member, receiver, 0, rng);
  exchange(receiver, member, 0, rng);
  assert.equal(receiver.nodeInfo(member.self), undefined, 'a reaped node is not re-imported');
  assert.equal(receiver.stateBytes, receiver.recountBytes());
});

test('over maxStateBytes new records are refused and counted; a newer generation frees its old state', () => {
  const receiver = node(0, { maxStateBytes: 4000 });
  const own = receiver.stateBytes;
  const a = node(1);
  for (let k = 0; k < 40; k++) a.set(`k${k}`, 'v'.repeat(100));
  for (let i = 0; i < 5; i++) exchange(a, receiver, 0, rng);
  assert.ok(receiver.stateBytes <= 4000, `${receiver.stateBytes} bytes kept`);
  assert.ok(receiver.stateBytes > 4000 - 300, 'filled up to about the budget');
  assert.ok(receiver.stats.rejected.budget > 0, 'the rest was refused and counted');
  assert.equal(receiver.stateBytes, receiver.recountBytes());
  // The node restarts with a small state: its old generation's bytes make room for it.
  const restarted = node(1, {}, 2);
  restarted.set('k0', 'small');
  exchange(restarted, receiver, 0, rng);
  assert.equal(receiver.get(restarted.self, 'k0'), 'small');
  assert.equal(receiver.stateBytes, receiver.recountBytes());
  receiver.forget(restarted.self);
  assert.equal(receiver.stateBytes, own, 'forgetting a node frees all of its bytes');
});

test('property: the running byte count equals a recount and stays within the budget', () => {
  type Op =
    | { kind: 'set'; who: number; key: number; size: number }
    | { kind: 'delete'; who: number; key: number }
    | { kind: 'restart'; who: number }
    | { kind: 'sync'; who: number }
    | { kind: 'push'; who: number; key: number }
    | { kind: 'gc' }
    | { kind: 'forget'; who: number };
  const who = fc.integer({ min: 1, max: 3 });
  const key = fc.nat({ max: 11 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({ kind: fc.constant('set' as const), who, key, size: fc.nat({ max: 500 }) }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), who, key }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), who }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('sync' as const), who }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('push' as const), who, key }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'gc' as const }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('forget' as const), who }) },
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 400, max: 3000 }), (ops, max) => {
      const receiver = node(0, { maxStateBytes: max });
      const generations = [0, 1, 1, 1];
      const owners = [undefined, node(1), node(2), node(3)];
      let now = 0;
      for (const o of ops) {
        now += 1000;
        const owner = owners['who' in o ? o.who : 1]!;
        switch (o.kind) {
          case 'set':
            owner.set(`k${o.key}`, 'v'.repeat(o.size + 1));
            break;
          case 'delete':
            owner.delete(`k${o.key}`, now);
            break;
          case 'restart':
            generations[o.who]! += 1;
            owners[o.who] = node(o.who, {}, generations[o.who]!);
            break;
          case 'sync':
            exchange(owner, receiver, now, rng);
            break;
          case 'push': {
            const entry = owner.entry(owner.self, `k${o.key}`);
            if (entry !== undefined) receiver.applyRecord(entry.record, now);
            break;
          }
          case 'gc':
            receiver.collectGarbage(now + 10 * 3_600_000);
            break;
          case 'forget':
            receiver.forget(owner.self);
            break;
        }
        assert.equal(receiver.stateBytes, receiver.recountBytes(), `after ${o.kind}`);
        assert.ok(receiver.stateBytes <= max, `${receiver.stateBytes} bytes over ${max}`);
      }
    }),
    { numRuns: 200, seed: 42 },
  );
});
