import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Rng } from '../../core/index.js';
import { type SignedRecord, simulatedScheme } from '../../security/index.js';
import type { ScuttlebuttState } from './cluster-state.js';
import {
  exchange,
  identities,
  invariantViolation,
  makeNode,
  OwnerLog,
  render,
  visible,
} from './harness.test-helper.js';
import { decodeStatePayload } from './records.js';

const [owner, receiverId] = identities(2, 'merge');

type Op =
  | { kind: 'set'; key: number; value: number }
  | { kind: 'delete'; key: number }
  | { kind: 'heartbeat' }
  | { kind: 'restart' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      key: fc.nat({ max: 5 }),
      value: fc.nat({ max: 9 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.nat({ max: 5 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'heartbeat' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

/** Runs the owner's ops, returning every record it signed and the final owner. */
function runOwner(ops: readonly Op[]): { records: SignedRecord[]; last: ScuttlebuttState; log: OwnerLog } {
  let gen = 1;
  let node = makeNode(owner!, gen, simulatedScheme);
  const log = new OwnerLog();
  const records: SignedRecord[] = [];
  const take = (events: ReturnType<ScuttlebuttState['set']>) => {
    log.observe(events);
    for (const e of events) if (e.type === 'localRecord') records.push(e.record);
  };
  for (const op of ops) {
    if (op.kind === 'set') take(node.set(`k${op.key}`, `v${op.value}`));
    else if (op.kind === 'delete') take(node.delete(`k${op.key}`, 0));
    else if (op.kind === 'heartbeat') take(node.heartbeat());
    else node = makeNode(owner!, ++gen, simulatedScheme);
  }
  // A restarted owner's first record is its heartbeat, signed at construction.
  take(node.heartbeat());
  return { records, last: node, log };
}

test('applyRecord in any order, with duplicates, ends at the log replay of the newest generation', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), fc.nat(), fc.nat({ max: 3 }), (ops, seed, dupFactor) => {
      const { records, last, log } = runOwner(ops);
      const rng = Rng.fromSeed(seed);
      const deliveries = rng.shuffle([...records, ...records.filter(() => rng.int(4) < dupFactor)]);
      const receiver = makeNode(receiverId!, 1, simulatedScheme);
      const seen = new Map<string, [number, number]>(); // key -> [generation, version], must only grow
      for (const r of deliveries) {
        const events = receiver.applyRecord(r, 0);
        const gen = decodeStatePayload(r.payload)!.generation;
        for (const e of events) {
          if (e.type !== 'update' || e.record === undefined) continue;
          const prev = seen.get(e.key);
          assert.ok(
            prev === undefined || prev[0] < gen || (prev[0] === gen && prev[1] < e.version),
            'an update event for a stale record',
          );
          seen.set(e.key, [gen, e.version]);
        }
        assert.equal(receiver.applyRecord(r, 0).length, 0, 'a second delivery changes nothing');
      }
      const want = new Map<string, string>();
      for (const [k, v] of log.latest(last.generation)) if (v.value !== null) want.set(k, render(v.value));
      assert.deepEqual(visible(receiver, owner!.nodeId), want);
      assert.equal(receiver.nodeInfo(owner!.nodeId)?.generation, last.generation);
      assert.equal(receiver.nodeInfo(owner!.nodeId)?.heartbeat, last.nodeInfo(last.self)?.heartbeat);
      assert.equal(invariantViolation(receiver, last, log), undefined);
      // One exchange closes any watermark gap the out-of-order path left.
      exchange(receiver, last, 0, rng);
      assert.equal(receiver.nodeInfo(owner!.nodeId)?.maxVersion, last.nodeInfo(last.self)?.maxVersion);
    }),
    { numRuns: 150 },
  );
});

test('records of an older generation are rejected as stale after a restart is seen', () => {
  const { records } = runOwner([
    { kind: 'set', key: 1, value: 1 },
    { kind: 'restart' },
    { kind: 'set', key: 2, value: 2 },
  ]);
  const receiver = makeNode(receiverId!, 1, simulatedScheme);
  for (const r of [...records].reverse()) receiver.applyRecord(r, 0);
  assert.equal(receiver.get(owner!.nodeId, 'k1'), undefined);
  assert.equal(receiver.get(owner!.nodeId, 'k2'), 'v2');
  assert.ok(receiver.stats.rejected.stale >= 1);
});
