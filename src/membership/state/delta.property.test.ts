import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Rng } from '../../core/index.js';
import { type SignedRecord, simulatedScheme } from '../../security/index.js';
import type { ScuttlebuttState } from './cluster-state.js';
import { minimumMtuBytes } from './config.js';
import { identities, invariantViolation, makeNode, OwnerLog, visible, wire } from './harness.test-helper.js';
import { encodeStateMessage } from './messages.js';

const ids = identities(3, 'delta');
const BASE = { maxKeyBytes: 16, maxValueBytes: 64, tombstoneGraceMs: 5 };
const MIN_MTU = minimumMtuBytes(BASE);

type Cmd =
  | { kind: 'set'; node: number; key: number; len: number }
  | { kind: 'delete'; node: number; key: number }
  | { kind: 'heartbeat'; node: number }
  | { kind: 'exchange'; from: number; to: number }
  | { kind: 'push'; to: number; pick: number }
  | { kind: 'gc'; advanceMs: number };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      node: fc.nat({ max: 2 }),
      key: fc.nat({ max: 11 }),
      len: fc.nat({ max: 64 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      node: fc.nat({ max: 2 }),
      key: fc.nat({ max: 11 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), node: fc.nat({ max: 2 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('exchange' as const),
      from: fc.nat({ max: 2 }),
      to: fc.nat({ max: 2 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('push' as const), to: fc.nat({ max: 2 }), pick: fc.nat() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('gc' as const), advanceMs: fc.nat({ max: 8 }) }) },
);

/** One exchange checking that every message fits the MTU. */
function checkedExchange(a: ScuttlebuttState, b: ScuttlebuttState, now: number, mtu: number): void {
  const syn = a.createSyn();
  assert.ok(encodeStateMessage(syn).length <= mtu, 'Syn over the MTU');
  const synAck = b.handleSyn(wire(syn), now).reply!;
  assert.ok(
    encodeStateMessage(synAck).length <= mtu,
    `SynAck of ${encodeStateMessage(synAck).length} over the MTU ${mtu}`,
  );
  const ack = a.handleSynAck(wire(synAck), now).reply!;
  assert.ok(encodeStateMessage(ack).length <= mtu, 'Ack over the MTU');
  b.handleAck(wire(ack), now);
}

test('deltas fit the MTU, keep the Scuttlebutt invariant (no gaps) and converge', () => {
  fc.assert(
    fc.property(fc.array(cmdArb, { maxLength: 80 }), fc.nat({ max: 500 }), (cmds, extraMtu) => {
      const mtu = MIN_MTU + extraMtu;
      const nodes = ids.map((id) => makeNode(id, 1, simulatedScheme, { ...BASE, mtuBytes: mtu }));
      const logs = nodes.map(() => new OwnerLog());
      const pushable: SignedRecord[] = [];
      let now = 0;
      const check = (): void => {
        for (const r of nodes) {
          for (let o = 0; o < nodes.length; o++) {
            const violation = invariantViolation(r, nodes[o]!, logs[o]!);
            assert.equal(violation, undefined, violation);
          }
        }
      };
      for (const c of cmds) {
        if (c.kind === 'set' || c.kind === 'delete' || c.kind === 'heartbeat') {
          const n = nodes[c.node]!;
          const events =
            c.kind === 'set'
              ? n.set(`k${c.key}`, 'x'.repeat(c.len))
              : c.kind === 'delete'
                ? n.delete(`k${c.key}`, now)
                : n.heartbeat();
          logs[c.node]!.observe(events);
          for (const e of events) if (e.type === 'localRecord') pushable.push(e.record);
        } else if (c.kind === 'exchange') {
          if (c.from !== c.to) checkedExchange(nodes[c.from]!, nodes[c.to]!, now, mtu);
        } else if (c.kind === 'push') {
          const r = pushable[c.pick % Math.max(1, pushable.length)];
          if (r !== undefined) nodes[c.to]!.applyRecord(r, now);
        } else {
          now += c.advanceMs;
          for (const n of nodes) n.collectGarbage(now);
        }
        check();
      }
      // Liveness: full exchanges, no loss, until every node agrees with every owner.
      let converged = false;
      for (let round = 0; round < 60 && !converged; round++) {
        for (let i = 0; i < nodes.length; i++)
          for (let j = 0; j < nodes.length; j++) if (i !== j) checkedExchange(nodes[i]!, nodes[j]!, now, mtu);
        check();
        converged = nodes.every((r) =>
          nodes.every((o) => {
            const a = r.nodeInfo(o.self);
            const b = o.nodeInfo(o.self)!;
            return a !== undefined && a.maxVersion === b.maxVersion && a.heartbeat === b.heartbeat;
          }),
        );
      }
      assert.ok(converged, 'did not converge in 60 rounds');
      for (const r of nodes) for (const o of nodes) assert.deepEqual(visible(r, o.self), visible(o, o.self));
    }),
    { numRuns: 120 },
  );
});

test('a peer that missed collected tombstones is reset and drops the deleted keys', () => {
  const rng = Rng.fromSeed(1);
  const config = { tombstoneGraceMs: 10 };
  const [a, b, c] = ids.map((id) => makeNode(id, 1, simulatedScheme, config)) as [
    ScuttlebuttState,
    ScuttlebuttState,
    ScuttlebuttState,
  ];
  for (let i = 0; i < 5; i++) a.set(`k${i}`, `v${i}`);
  checkedExchange(c, a, 0, 1400);
  assert.equal(c.get(a.self, 'k1'), 'v1');
  a.delete('k1', 0);
  a.set('k9', 'late');
  checkedExchange(b, a, 0, 1400);
  a.collectGarbage(100);
  b.collectGarbage(100);
  assert.equal(a.entry(a.self, 'k1'), undefined, 'tombstone collected on the owner');
  assert.ok((a.nodeInfo(a.self)?.gcVersion ?? 0) >= 6);
  // c never saw the delete; b collected it too. c syncs from b: it must be reset, not resurrected.
  const events: string[] = [];
  const syn = c.createSyn();
  const synAck = b.handleSyn(wire(syn), 100).reply!;
  for (const e of c.handleSynAck(wire(synAck), 100).events)
    events.push(e.type === 'update' ? `${e.type}:${e.key}:${e.value ?? '-'}` : e.type);
  assert.equal(c.get(a.self, 'k1'), undefined);
  assert.equal(c.get(a.self, 'k9'), 'late');
  assert.equal(c.get(a.self, 'k2'), 'v2');
  assert.ok(events.includes('nodeReset'));
  assert.ok(events.includes('update:k1:-'));
  assert.ok(!events.includes('update:k2:-'), 'surviving keys do not flicker');
  assert.equal(c.stats.gcResets, 1);
  void rng;
});

test('an old record pushed after its tombstone was collected does not resurrect the key', () => {
  const [a, b] = ids.map((id) => makeNode(id, 1, simulatedScheme, { tombstoneGraceMs: 10 })) as [
    ScuttlebuttState,
    ScuttlebuttState,
  ];
  const old = a.set('k', 'old').find((e) => e.type === 'localRecord')!;
  a.delete('k', 0);
  checkedExchange(b, a, 0, 1400);
  assert.equal(b.entry(a.self, 'k')?.value, null, 'b holds the tombstone');
  b.collectGarbage(50);
  assert.equal(b.entry(a.self, 'k'), undefined, 'b collected it');
  assert.equal(b.applyRecord(old.type === 'localRecord' ? old.record : (undefined as never), 50).length, 0);
  assert.equal(b.get(a.self, 'k'), undefined);
  assert.ok(b.stats.duplicates >= 1);
});
