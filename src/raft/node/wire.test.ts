import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode, isCairnError, Rng } from '../../core/index.js';
import type { Message } from '../types.js';
import { decodeHello, decodeSnapshotAck, encodeHello, encodeSnapshotAck, WireCodec } from './wire.js';

const codec = new WireCodec();

function msg(fields: Partial<Message>): Message {
  return {
    type: 'app',
    from: 2,
    to: 1,
    term: 3,
    logTerm: 2,
    index: 10,
    entries: [],
    commit: 9,
    reject: false,
    rejectHint: 0,
    ...fields,
  };
}

const refused = (err: unknown) => isCairnError(err, 'DECODE_FAILED') || isCairnError(err, 'LIMIT_EXCEEDED');

describe('raft wire format', () => {
  it('a batch round-trips every field, entries and context included', () => {
    const batch: Message[] = [
      msg({
        entries: [
          { term: 3, index: 11, type: 'normal', data: new Uint8Array([1, 2, 3]) },
          { term: 3, index: 12, type: 'conf', data: new Uint8Array([9]) },
          { term: 3, index: 13, type: 'normal', data: new Uint8Array(0) },
        ],
      }),
      msg({ type: 'heartbeatResp', context: new Uint8Array([7, 7]), reject: true, rejectHint: 4 }),
    ];
    assert.deepEqual(codec.decodeBatch(codec.encodeBatch(batch), 2, 1), batch);
  });

  it('refuses messages in another peer’s name, to another node, snapshots on a msg stream', () => {
    assert.throws(() => codec.decodeBatch(codec.encodeBatch([msg({ from: 3 })]), 2, 1), refused);
    assert.throws(() => codec.decodeBatch(codec.encodeBatch([msg({ to: 5 })]), 2, 1), refused);
    const snap = encode({ k: 'm', m: [{ y: 7, f: 2, o: 1, t: 1, l: 0, i: 0, c: 0, r: false, h: 0 }] });
    assert.throws(() => codec.decodeBatch(snap, 2, 1), refused);
  });

  it('refuses local-only message types when encoding', () => {
    assert.throws(() => codec.encodeBatch([msg({ type: 'hup' })]));
  });

  it('refuses out-of-range integers, wrong types and oversized fields', () => {
    const base = { y: 1, f: 2, o: 1, t: 1, l: 0, i: 0, c: 0, r: false, h: 0 };
    const bad = [
      { ...base, t: -1 },
      { ...base, i: 2 ** 53 },
      { ...base, c: 1.5 },
      { ...base, r: 1 },
      { ...base, y: 99 },
      { ...base, x: new Uint8Array(2000) },
      { ...base, e: [[1, 1, 2, new Uint8Array(0)]] },
      { ...base, e: [[1, 1, 0, 'text']] },
      { ...base, e: 'no' },
    ];
    for (const m of bad)
      assert.throws(() => codec.decodeBatch(encode({ k: 'm', m: [m] }), 2, 1), refused, JSON.stringify(m));
    assert.throws(() => codec.decodeBatch(encode({ k: 'm', m: [] }), 2, 1), refused);
    assert.throws(() => codec.decodeBatch(new Uint8Array([0xc1]), 2, 1), refused);
  });

  it('random bytes never decode into a message and never throw anything but a decode error', () => {
    const rng = Rng.fromSeed(`wire-${process.env.CAIRN_SEED ?? 1}`);
    const good = codec.encodeBatch([
      msg({ entries: [{ term: 3, index: 11, type: 'normal', data: new Uint8Array(8) }] }),
    ]);
    for (let i = 0; i < 2000; i++) {
      const frame = new Uint8Array(good);
      for (let k = 0; k < 1 + rng.int(4); k++) frame[rng.int(frame.length)] = rng.int(256);
      try {
        for (const m of codec.decodeBatch(frame, 2, 1)) assert.equal(m.from, 2);
      } catch (err) {
        assert.ok(refused(err), `seed=${rng.seed} iteration ${i}: ${String(err)}`);
      }
    }
  });

  it('hello and snapshot frames round-trip; a hello with id 0 is refused', () => {
    assert.deepEqual(decodeHello(encodeHello({ from: 4, to: 1, kind: 'snap' })), {
      from: 4,
      to: 1,
      kind: 'snap',
    });
    assert.throws(() => decodeHello(encodeHello({ from: 0, to: 1, kind: 'msg' })), refused);
    assert.equal(decodeSnapshotAck(encodeSnapshotAck(true)), true);
    const m = msg({
      type: 'snap',
      snapshot: {
        meta: { index: 50, term: 3, confState: { voters: [1, 2], learners: [3] } },
        data: new Uint8Array(3),
      },
    });
    const sum = new Uint8Array(32).fill(5);
    const h = codec.decodeSnapshotHeader(codec.encodeSnapshotHeader(m, 3, sum), 2, 1);
    assert.deepEqual(h.meta, m.snapshot!.meta);
    assert.equal(h.size, 3);
    assert.deepEqual(h.sum, sum);
    assert.equal(h.message.type, 'snap');
    assert.deepEqual([...codec.decodeChunk(codec.encodeChunk(new Uint8Array([1, 2])))], [1, 2]);
  });
});
