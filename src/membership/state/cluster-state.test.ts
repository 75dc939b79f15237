import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCairnError, Rng } from '../../core/index.js';
import { simulatedScheme } from '../../security/index.js';
import { ScuttlebuttState } from './cluster-state.js';
import { exchange, identities, makeNode, wire } from './harness.test-helper.js';

const [a, b, c] = identities(3, 'cluster-state');
const rng = Rng.fromSeed(3);

test('local writes version, sign and report themselves', () => {
  const s = makeNode(a!, 1, simulatedScheme);
  const ev = s.set('role', 'kv');
  assert.deepEqual(
    ev.map((e) => e.type),
    ['update', 'localRecord'],
  );
  assert.equal(s.get(a!.nodeId, 'role'), 'kv');
  s.set('bin', new Uint8Array([1, 2]));
  assert.equal(s.nodeInfo(a!.nodeId)?.maxVersion, 2);
  const del = s.delete('role', 5);
  assert.equal(del[0]?.type === 'update' && del[0].value, undefined);
  assert.equal(s.get(a!.nodeId, 'role'), undefined);
  assert.equal(s.entry(a!.nodeId, 'role')?.tombstoneSinceMs, 5);
  // valuesOf: the live values (the tombstone left out), as entries() lists them.
  assert.deepEqual(s.valuesOf(a!.nodeId), { bin: new Uint8Array([1, 2]) });
  assert.deepEqual(s.valuesOf(a!.nodeId), Object.fromEntries(s.entries(a!.nodeId)));
  assert.deepEqual(s.valuesOf(b!.nodeId), {}, 'an unknown node has none');
  assert.deepEqual(s.delete('role', 6), [], 'deleting twice writes nothing');
  assert.equal(s.nodeInfo(a!.nodeId)?.heartbeat, 1, 'heartbeat 1 is signed at start');
  assert.deepEqual(
    s.heartbeat().map((e) => e.type),
    ['heartbeat', 'localRecord'],
  );
});

test('bad local input throws typed errors', () => {
  const s = makeNode(a!, 1, simulatedScheme, { maxKeysPerNode: 2, maxKeyBytes: 8, maxValueBytes: 16 });
  assert.throws(
    () => s.set('', 'x'),
    (e: unknown) => isCairnError(e, 'INVALID_ARGUMENT'),
  );
  assert.throws(
    () => s.set('k', 3 as unknown as string),
    (e: unknown) => isCairnError(e, 'INVALID_ARGUMENT'),
  );
  assert.throws(
    () => s.set('k'.repeat(9), 'x'),
    (e: unknown) => isCairnError(e, 'LIMIT_EXCEEDED'),
  );
  assert.throws(
    () => s.set('k', 'x'.repeat(17)),
    (e: unknown) => isCairnError(e, 'LIMIT_EXCEEDED'),
  );
  s.set('k1', 'x');
  s.set('k2', 'x');
  assert.throws(
    () => s.set('k3', 'x'),
    (e: unknown) => isCairnError(e, 'LIMIT_EXCEEDED'),
  );
  assert.throws(
    () => new ScuttlebuttState({ identity: a!, generation: 0 }),
    (e: unknown) => isCairnError(e, 'INVALID_ARGUMENT'),
  );
});

test('remote events: update, heartbeat, and limit rejections', () => {
  const sa = makeNode(a!, 1, simulatedScheme);
  const sb = makeNode(b!, 1, simulatedScheme, { maxKeysPerNode: 2 });
  for (let i = 0; i < 3; i++) sa.set(`k${i}`, `v${i}`);
  const events = exchange(sb, sa, 0, rng);
  const types = events.map((e) => (e.type === 'update' ? `update:${e.key}` : e.type));
  assert.ok(types.includes('heartbeat'));
  assert.ok(types.includes('update:k0') && types.includes('update:k1') && !types.includes('update:k2'));
  assert.equal(sb.stats.rejected.limit, 1);
});

test('a Syn from another cluster gets no reply; records about oneself are ignored', () => {
  const sa = makeNode(a!, 1, simulatedScheme, { cluster: 'blue' });
  const sb = makeNode(b!, 1, simulatedScheme, { cluster: 'green' });
  assert.equal(sb.handleSyn(wire(sa.createSyn()), 0).reply, undefined);
  assert.equal(sb.stats.badCluster, 1);
  const rec = sb.set('k', 'v')[1]!;
  assert.equal(sb.applyRecord(rec.type === 'localRecord' ? rec.record : (undefined as never), 0).length, 0);
  assert.equal(sb.stats.ownIgnored, 1);
});

test('a restarted node makes peers drop its old generation, with events', () => {
  const sa = makeNode(a!, 1, simulatedScheme);
  const sc = makeNode(c!, 1, simulatedScheme);
  sa.set('old', '1');
  exchange(sc, sa, 0, rng);
  assert.equal(sc.get(a!.nodeId, 'old'), '1');
  const sa2 = makeNode(a!, 2, simulatedScheme);
  sa2.set('new', '2');
  const events = exchange(sc, sa2, 0, rng);
  assert.ok(
    events.some((e) => e.type === 'nodeReset' && e.reason === 'generation' && e.previousGeneration === 1),
  );
  assert.ok(events.some((e) => e.type === 'update' && e.key === 'old' && e.value === undefined));
  assert.equal(sc.get(a!.nodeId, 'old'), undefined);
  assert.equal(sc.get(a!.nodeId, 'new'), '2');
  // The old incarnation's digest now gets nothing about the new generation it cannot use.
  assert.equal(sa.computeDelta({ partial: false, entries: sc.digest(10_000).entries }, 10_000).length, 0);
});

test('noteNode makes the next digest ask for an unknown node', () => {
  const sb = makeNode(b!, 1, simulatedScheme);
  sb.noteNode(a!.nodeId, 4);
  const entry = sb.createSyn().digest.entries.find((e) => e.node === a!.nodeId);
  assert.deepEqual(entry, { node: a!.nodeId, generation: 0, maxVersion: 0, gcVersion: 0, heartbeat: 0 });
});

test('deltas written without heartbeats carry key/value records but no heartbeat (push-pull)', () => {
  const [a, b] = identities(2, 'no-heartbeats');
  const sa = makeNode(a!, 1, simulatedScheme);
  const sb = makeNode(b!, 1, simulatedScheme);
  sa.heartbeat();
  sa.heartbeat();
  sa.set('role', 'kv');
  const options = { heartbeats: false };
  const synAck = sa.handleSyn(wire(sb.createSyn()), 0, 1400, options).reply!;
  const section = synAck.delta.find((d) => d.node === sa.self)!;
  assert.equal(section.heartbeat, undefined);
  assert.equal(section.records.length, 1);
  sb.handleSynAck(wire(synAck), 0, 1400, options);
  assert.equal(sb.get(sa.self, 'role'), 'kv');
  assert.equal(sb.nodeInfo(sa.self)!.heartbeat, 0);
  // The default still carries the heartbeat.
  const withBeats = sa.handleSyn(wire(sb.createSyn()), 0).reply!;
  assert.ok(withBeats.delta.find((d) => d.node === sa.self)!.heartbeat !== undefined);
});

test('a node started without a heartbeat holds records of the keys it writes only', () => {
  const quiet = new ScuttlebuttState({
    identity: a!,
    generation: 1,
    scheme: simulatedScheme,
    initialHeartbeat: false,
  });
  const peer = makeNode(b!, 1, simulatedScheme);
  assert.equal(quiet.nodeInfo(a!.nodeId)?.heartbeat, 0);
  exchange(quiet, peer, 0, rng);
  exchange(peer, quiet, 0, rng);
  assert.equal(peer.nodeInfo(a!.nodeId), undefined, 'nothing to learn before a write');
  quiet.set('role', 'kv');
  exchange(quiet, peer, 0, rng);
  assert.equal(peer.get(a!.nodeId, 'role'), 'kv');
  assert.equal(peer.nodeInfo(a!.nodeId)?.heartbeat, 0);
});
