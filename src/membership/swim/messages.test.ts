import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encode } from '../../core/index.js';
import { ed25519Scheme, NodeIdentity, signRecord, simulatedScheme } from '../../security/index.js';
import { sharedEncoding } from '../intern.js';
import { DEFAULT_LIMITS } from './limits.js';
import { memberKey } from './member-key.js';
import {
  createSwimSigner,
  decodeSwimMessage,
  encodeSwimMessage,
  makeAliveRecord,
  makeDeadRecord,
  makeLeaveRecord,
  makeSuspectRecord,
  openAliveRecord,
  openAliveValue,
  openBroadcast,
  openDeadRecord,
  openLeaveRecord,
  openSuspectRecord,
  type SwimMessage,
} from './messages.js';

const seed = (n: number) => new Uint8Array(32).fill(n);
const a = NodeIdentity.fromSeed(seed(1));
const b = NodeIdentity.fromSeed(seed(2));
const alive = { generation: 17, incarnation: 3, address: '10.0.0.1:7946', name: 'alpha' };

describe('SWIM messages', () => {
  it('decode a broadcast part the process encoded to its shared record, and anything else as usual', () => {
    const record = makeAliveRecord(a, { ...alive, name: 'shared-part' });
    const part = sharedEncoding('Alive', record, () => encodeSwimMessage({ type: 'Alive', record }));
    const back = decodeSwimMessage(part);
    assert.ok(back.ok && back.value.type === 'Alive');
    assert.equal((back.value as { record: unknown }).record, record);
    // The record's own encoding is not a SWIM message, shared or not.
    assert.equal(decodeSwimMessage(sharedEncoding('record', record, () => encode(record))).ok, false);
    // The same bytes, not shared (a copy of the record): decoded, and equal.
    const fresh = decodeSwimMessage(encodeSwimMessage({ type: 'Alive', record: { ...record } }));
    assert.ok(fresh.ok && fresh.value.type === 'Alive');
    assert.deepEqual(openAliveRecord(fresh.value.record), openAliveRecord(record));
    // Custom limits never take the shortcut: a record over their payload bound is refused.
    const tight = { ...DEFAULT_LIMITS, maxRecordPayloadBytes: 8 };
    assert.equal(decodeSwimMessage(part, tight).ok, false);
  });

  it('refuse at decode a PingReq whose targetAddress is not host:port, so no step sends to it', () => {
    const req = (targetAddress: string) =>
      encodeSwimMessage({ type: 'PingReq', seq: 1, target: b.nodeId, targetAddress, from: a.nodeId });
    for (const bad of [
      'x',
      'no-port',
      '10.0.0.1:',
      '10.0.0.1:70000',
      '10.0.0.1:0',
      'a b:1',
      '[zz]:1',
      ':1',
    ]) {
      assert.deepEqual(decodeSwimMessage(req(bad)), { ok: false, reason: 'malformed' }, bad);
    }
    for (const good of ['10.0.0.2:7946', '[::1]:1', 'host.example:65535']) {
      assert.equal(decodeSwimMessage(req(good)).ok, true, good);
    }
  });

  it('refuse alive records whose address is not host:port or whose name leaves the node-name charset', () => {
    const bad = [
      { ...alive, address: 'not an address' },
      { ...alive, name: 'evil\u001b[2J\nrow' },
      { ...alive, name: 'tab\there' },
      { ...alive, name: '' },
      { ...alive, name: '-starts-with-dash' },
      { ...alive, name: 'x'.repeat(DEFAULT_LIMITS.maxNameLength + 1) },
    ];
    for (const fields of bad) {
      // Signed by its own key, so only the payload rule can refuse it.
      assert.deepEqual(openAliveRecord(makeAliveRecord(a, fields)), { ok: false, reason: 'bad-payload' });
    }
    assert.equal(openAliveRecord(makeAliveRecord(a, { ...alive, name: 'node-1.a_b' })).ok, true);
  });

  it('round-trip every kind through encode/decode', () => {
    const record = makeAliveRecord(a, alive);
    const messages: SwimMessage[] = [
      { type: 'Ping', seq: 1, target: b.nodeId, from: a.nodeId },
      { type: 'PingReq', seq: 2, target: b.nodeId, targetAddress: '10.0.0.2:7946', from: a.nodeId },
      { type: 'Ack', seq: 3, from: b.nodeId },
      { type: 'Nack', seq: 4, from: b.nodeId },
      { type: 'Alive', record },
      { type: 'Leave', record: makeLeaveRecord(a, { generation: 17, incarnation: 3 }) },
      { type: 'Suspect', record: makeSuspectRecord(b, { target: a.nodeId, generation: 17, incarnation: 3 }) },
      { type: 'Dead', record: makeDeadRecord(b, { target: a.nodeId, generation: 17, incarnation: 3 }) },
      { type: 'User', data: new Uint8Array([1, 2, 3]) },
    ];
    for (const m of messages) {
      const back = decodeSwimMessage(encodeSwimMessage(m));
      assert.ok(back.ok, m.type);
      assert.equal(back.value.type, m.type);
    }
  });

  it('opens records signed by their subject or accuser (ed25519)', () => {
    const opened = openAliveRecord(makeAliveRecord(a, alive));
    assert.ok(opened.ok);
    assert.deepEqual(
      { ...opened.value, record: undefined },
      { type: 'Alive', node: a.nodeId, key: memberKey(a.nodeId), ...alive, record: undefined },
    );
    const leave = openLeaveRecord(makeLeaveRecord(a, { generation: 17, incarnation: 4 }));
    assert.ok(leave.ok && leave.value.node === a.nodeId && leave.value.incarnation === 4);
    const suspect = openSuspectRecord(
      makeSuspectRecord(b, { target: a.nodeId, generation: 17, incarnation: 3 }),
    );
    assert.ok(suspect.ok && suspect.value.from === b.nodeId && suspect.value.target === a.nodeId);
    const dead = openDeadRecord(makeDeadRecord(b, { target: a.nodeId, generation: 17, incarnation: 3 }));
    assert.ok(dead.ok && dead.value.type === 'Dead');
  });

  it('rejects forged, altered and confused records', () => {
    const record = makeAliveRecord(a, alive);
    // b signs a record but claims to be a: the signature does not verify.
    const forged = { ...makeAliveRecord(b, alive), node: a.nodeId };
    assert.deepEqual(openAliveRecord(forged), { ok: false, reason: 'bad-signature' });
    const altered = { ...record, version: 4 };
    assert.equal(openAliveRecord(altered).ok, false);
    // An alive record wrapped as a leave: the payload kind is signed, so it does not open.
    assert.deepEqual(openBroadcast({ type: 'Leave', record }), { ok: false, reason: 'bad-payload' });
    // An accusation whose payload names another accuser than its signer.
    const payload = encode({
      kind: 'swim-suspect',
      target: a.nodeId,
      generation: 1,
      incarnation: 0,
      from: a.nodeId,
    });
    assert.deepEqual(openSuspectRecord(signRecord(b, 0, payload)), { ok: false, reason: 'signer-mismatch' });
    const self = makeSuspectRecord(a, { target: a.nodeId, generation: 1, incarnation: 0 });
    assert.deepEqual(openSuspectRecord(self), { ok: false, reason: 'self-accusation' });
    const wrongVersion = signRecord(a, 9, encode({ kind: 'swim-leave', generation: 1, incarnation: 2 }));
    assert.deepEqual(openLeaveRecord(wrongVersion), { ok: false, reason: 'version-mismatch' });
    // Schemes do not mix: a simulated signature is not an Ed25519 one.
    const sim = createSwimSigner(a, simulatedScheme).alive(alive);
    assert.equal(openAliveRecord(sim).ok, false);
    assert.equal(openAliveRecord(sim, simulatedScheme).ok, true);
    // openAliveValue answers the same, opened before or not: the shared value, or undefined.
    assert.equal(openAliveValue(forged, ed25519Scheme), undefined);
    assert.equal(openAliveValue(altered, ed25519Scheme), undefined);
    assert.equal(openAliveValue(sim, ed25519Scheme), undefined);
    assert.equal(
      openAliveValue(sim, simulatedScheme),
      (openAliveRecord(sim, simulatedScheme) as { value: unknown }).value,
    );
    const unseen = makeAliveRecord(a, { ...alive, name: 'value-first' });
    const first = openAliveValue({ ...unseen }, ed25519Scheme);
    assert.ok(first !== undefined);
    assert.equal(openAliveValue({ ...unseen }, ed25519Scheme), first, 'a copy finds the shared value');
    assert.equal(openAliveValue(first.record, ed25519Scheme), first);
  });

  it('never throws on hostile input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = decodeSwimMessage(bytes);
        if (!r.ok) assert.ok(['malformed', 'too-large'].includes(r.reason));
      }),
    );
    fc.assert(
      fc.property(fc.anything(), (value) => {
        let bytes: Uint8Array;
        try {
          bytes = encode(value);
        } catch {
          return;
        }
        decodeSwimMessage(bytes);
      }),
    );
    const bad = [
      { type: 'Ping', seq: -1, target: b.nodeId, from: a.nodeId },
      { type: 'Ping', seq: 1, target: 'not-a-node-id', from: a.nodeId },
      { type: 'PingReq', seq: 1, target: b.nodeId, targetAddress: 'x'.repeat(400), from: a.nodeId },
      {
        type: 'Alive',
        record: { node: a.nodeId, version: 0, payload: new Uint8Array(5000), signature: new Uint8Array(64) },
      },
      { type: 'Gossip' },
    ];
    for (const m of bad) assert.deepEqual(decodeSwimMessage(encode(m)), { ok: false, reason: 'malformed' });
    const garbage = {
      node: a.nodeId,
      version: 0,
      payload: new Uint8Array([0xc1]),
      signature: new Uint8Array(64),
    };
    assert.deepEqual(openBroadcast({ type: 'Dead', record: garbage }), { ok: false, reason: 'bad-payload' });
  });
});
