import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from '../../core/index.js';
import { ed25519Scheme, signRecord, simulatedScheme } from '../../security/index.js';
import { identities } from './harness.test-helper.js';
import { makeHeartbeatRecord, makeKvRecord, openKvRecord, openStateRecord } from './records.js';

const [alice, mallory] = identities(2, 'records');

test('kv records round-trip strings, bytes and tombstones', () => {
  for (const value of ['hello', new Uint8Array([1, 2, 3]), null, '']) {
    const rec = makeKvRecord(alice!, { generation: 5, version: 7, key: 'k', value });
    const fields = openKvRecord(rec);
    assert.ok(fields);
    assert.equal(fields.node, alice!.nodeId);
    assert.equal(fields.generation, 5);
    assert.equal(fields.version, 7);
    if (value instanceof Uint8Array) assert.deepEqual(new Uint8Array(fields.value as Uint8Array), value);
    else assert.equal(fields.value, value);
  }
});

test('heartbeat records carry the heartbeat as their version and are not kv records', () => {
  const rec = makeHeartbeatRecord(alice!, { generation: 2, heartbeat: 9 });
  const opened = openStateRecord(rec);
  assert.ok(opened.ok && opened.kind === 'heartbeat');
  assert.equal(opened.fields.heartbeat, 9);
  assert.equal(openKvRecord(rec), undefined);
});

test('a record signed by another identity is forged', () => {
  const payload = encode({ type: 'kv', generation: 1, key: 'k', value: 'evil' });
  const byMallory = signRecord(mallory!, 3, payload);
  const claimed = { ...byMallory, node: alice!.nodeId };
  assert.deepEqual(openStateRecord(claimed), { ok: false, reason: 'forged' });
});

test('an altered payload or version is forged; a missing signature is unsigned', () => {
  const rec = makeKvRecord(alice!, { generation: 1, version: 3, key: 'k', value: 'good' });
  const altered = { ...rec, payload: encode({ type: 'kv', generation: 1, key: 'k', value: 'bad' }) };
  assert.deepEqual(openStateRecord(altered), { ok: false, reason: 'forged' });
  assert.deepEqual(openStateRecord({ ...rec, version: 4 }), { ok: false, reason: 'forged' });
  assert.deepEqual(openStateRecord({ ...rec, signature: new Uint8Array(0) }), {
    ok: false,
    reason: 'unsigned',
  });
});

test('a payload of another kind or shape is malformed', () => {
  for (const payload of [
    encode({ type: 'alive', generation: 1, incarnation: 1 }),
    encode({ type: 'kv', generation: 0, key: 'k', value: 'v' }),
    encode({ type: 'kv', generation: 1, key: '', value: 'v' }),
    encode({ type: 'kv', generation: 1, key: 'k', value: 12 }),
    new Uint8Array([0xc1]),
  ]) {
    const rec = signRecord(alice!, 1, payload);
    assert.deepEqual(openStateRecord(rec), { ok: false, reason: 'malformed' });
  }
});

test('the scheme must match: a simulated signature does not pass Ed25519', () => {
  const rec = makeKvRecord(alice!, { generation: 1, version: 1, key: 'k', value: 'v' }, simulatedScheme);
  assert.ok(openKvRecord(rec, simulatedScheme));
  assert.equal(openKvRecord(rec, ed25519Scheme), undefined);
});
