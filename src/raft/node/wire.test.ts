import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode, isCairnError, Rng } from '../../core/index.js';
import type { Message } from '../types.js';
import { DEFAULT_LIMITS } from './limits.js';
import { decodeHello, decodeSnapshotAck, encodeHello, encodeSnapshotAck, WireCodec } from './wire.js';

const codec = new WireCodec();
/** Offsets in a one-message batch frame (wire-batch.ts): tag and count, then the message. */
const TYPE_AT = 3;
const TERM_AT = TYPE_AT + 2 + 16;
const MESSAGE_END = TYPE_AT + 2 + 7 * 8;

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
    const snap = codec.encodeBatch([msg({})]);
    snap[TYPE_AT] = 7; // snap's wire code
    assert.throws(() => codec.decodeBatch(snap, 2, 1), refused);
    assert.throws(() => codec.encodeBatch([msg({ type: 'snap' })]));
  });

  it('refuses local-only message types when encoding', () => {
    assert.throws(() => codec.encodeBatch([msg({ type: 'hup' })]));
  });

  it('refuses out-of-range integers, unknown types and flags, oversized or truncated fields', () => {
    const plain = codec.encodeBatch([msg({})]);
    const withEntry = codec.encodeBatch([
      msg({ entries: [{ term: 3, index: 11, type: 'normal', data: new Uint8Array(4) }] }),
    ]);
    const patched = (base: Uint8Array, at: number, write: (view: DataView) => void): Uint8Array => {
      const frame = new Uint8Array(base);
      write(new DataView(frame.buffer, at));
      return frame;
    };
    const entryAt = MESSAGE_END + 4; // after the entry count
    const bad: Array<[string, Uint8Array]> = [
      ['term -1', patched(plain, TERM_AT, (d) => d.setFloat64(0, -1))],
      ['index 2^53', patched(plain, TERM_AT + 16, (d) => d.setFloat64(0, 2 ** 53))],
      ['commit 1.5', patched(plain, TERM_AT + 24, (d) => d.setFloat64(0, 1.5))],
      ['rejectHint NaN', patched(plain, TERM_AT + 32, (d) => d.setFloat64(0, Number.NaN))],
      ['unknown flag', patched(plain, TYPE_AT + 1, (d) => d.setUint8(0, 8))],
      ['type 99', patched(plain, TYPE_AT, (d) => d.setUint8(0, 99))],
      ['tag', patched(plain, 0, (d) => d.setUint8(0, 0x82))],
      ['no messages', patched(plain.subarray(0, 3), 1, (d) => d.setUint16(0, 0))],
      ['count over the frame', patched(plain, 1, (d) => d.setUint16(0, 2))],
      ['count over the limit', patched(plain, 1, (d) => d.setUint16(0, 5000))],
      ['trailing byte', new Uint8Array([...plain, 0])],
      ['truncated', plain.subarray(0, plain.length - 1)],
      ['context flag without bytes', patched(plain, TYPE_AT + 1, (d) => d.setUint8(0, 2))],
      [
        'context over maxContextBytes',
        new Uint8Array([...patched(plain, TYPE_AT + 1, (d) => d.setUint8(0, 2)), 0, 0, 0x07, 0xd0]),
      ],
      ['entry kind 2', patched(withEntry, entryAt + 16, (d) => d.setUint8(0, 2))],
      ['entry length past the end', patched(withEntry, entryAt + 17, (d) => d.setUint32(0, 5))],
      ['entry over maxEntryBytes', patched(withEntry, entryAt + 17, (d) => d.setUint32(0, 2 ** 31))],
      ['zero entries with the flag', patched(withEntry, MESSAGE_END, (d) => d.setUint32(0, 0))],
      ['entry count over the frame', patched(withEntry, MESSAGE_END, (d) => d.setUint32(0, 50_000))],
      ['entry count over the limit', patched(withEntry, MESSAGE_END, (d) => d.setUint32(0, 2 ** 31))],
      ['entry index -5', patched(withEntry, entryAt + 8, (d) => d.setFloat64(0, -5))],
      ['empty frame', new Uint8Array(0)],
      ['msgpack', encode({ k: 'm', m: [{ y: 1, f: 2, o: 1, t: 1, l: 0, i: 0, c: 0, r: false, h: 0 }] })],
    ];
    assert.deepEqual(codec.decodeBatch(withEntry, 2, 1)[0]!.entries.length, 1);
    for (const [what, frame] of bad) assert.throws(() => codec.decodeBatch(frame, 2, 1), refused, what);
    assert.throws(() => codec.decodeBatch(new Uint8Array([0xc1]), 2, 1), refused);
    const small = new WireCodec({ ...DEFAULT_LIMITS, maxFrameBytes: 16 });
    assert.throws(
      () => small.decodeBatch(plain, 2, 1),
      (e) => isCairnError(e, 'LIMIT_EXCEEDED'),
    );
  });

  it('decoded entries and contexts are copies: the frame may be reused', () => {
    const frame = codec.encodeBatch([
      msg({
        context: new Uint8Array([1, 2]),
        entries: [{ term: 3, index: 11, type: 'normal', data: new Uint8Array([5, 6]) }],
      }),
    ]);
    const [m] = codec.decodeBatch(frame, 2, 1);
    frame.fill(0);
    assert.deepEqual([...m!.context!], [1, 2]);
    assert.deepEqual([...m!.entries[0]!.data], [5, 6]);
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
