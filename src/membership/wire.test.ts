import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CairnError,
  encode,
  isLoaned,
  Rng,
  recycleBytes,
  takeBytes,
  tryDecode,
  type Validator,
  v,
} from '../core/index.js';
import { plain } from '../core/testing.js';
import {
  NodeIdentity,
  type SignedRecord,
  SignedRecordValidator,
  signRecord,
  simulatedScheme,
} from '../security/index.js';
import {
  decodeDirect,
  decodeDirectPayload,
  decodePiggyback,
  encodeDirectPayload,
  encodePiggyback,
  encodeSyncFrame,
  type Piggyback,
  SYNC_FRAME_MAX_FIELDS,
  type SyncFrame,
  syncFrameDecoder,
} from './wire.js';

const identity = NodeIdentity.fromSeed(Rng.fromSeed('wire').bytes(32));
const record = signRecord(identity, 3, Uint8Array.of(1, 2, 3), simulatedScheme);
const items: Piggyback[] = [
  { k: 'kv', r: record },
  { k: 'ub', id: `${identity.nodeId}:7`, r: record },
];
const frames: SyncFrame[] = [
  { t: 'push', have: new Uint8Array(25), alive: [record], state: Uint8Array.of(9) },
  { t: 'pull', alive: [], want: [0, 3], state: new Uint8Array(0) },
  { t: 'done', alive: [record], state: Uint8Array.of(1, 2) },
  { t: 'done', alive: [] },
];
const decodeFrame = syncFrameDecoder(64 * 1024);

/** Valid encodings with a few bytes overwritten, truncated or extended. */
const mutated = (valid: Uint8Array[]) =>
  fc
    .tuple(
      fc.constantFrom(...valid),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(),
      fc.uint8Array({ maxLength: 8 }),
    )
    .map(([bytes, edits, cut, tail]) => {
      const out = Uint8Array.from(bytes);
      for (const [at, value] of edits) out[at % out.length] = value;
      return Uint8Array.from([...out.subarray(0, out.length - (cut % 3)), ...tail]);
    });

describe('membership wire codecs', () => {
  it('round-trip piggybacked items and sync frames', () => {
    // Compared re-encoded: decoded bytes come back as Buffers, which strict deepEqual tells apart.
    for (const item of items) {
      const bytes = encodePiggyback(item);
      assert.ok(Buffer.from(encodePiggyback(decodePiggyback(bytes)!)).equals(bytes));
    }
    for (const frame of frames) {
      const bytes = encodeSyncFrame(frame);
      assert.ok(Buffer.from(encodeSyncFrame(decodeFrame(bytes)!)).equals(bytes));
    }
    assert.ok(Buffer.from(encode(decodeDirect(encode(record)))).equals(encode(record)));
  });

  it('round-trip direct payloads and refuse any other shape', () => {
    const payload = { kind: 'direct', to: record.node, generation: 17, data: Uint8Array.of(1, 2) } as const;
    const back = decodeDirectPayload(encodeDirectPayload(payload));
    assert.ok(back !== undefined);
    assert.deepEqual({ ...back, data: [...back.data] }, { ...payload, data: [1, 2] });
    for (const bad of [
      { ...payload, kind: 'swim-alive' },
      { ...payload, to: 'x' },
      { ...payload, generation: -1 },
    ]) {
      assert.equal(decodeDirectPayload(encode(bad)), undefined);
    }
  });

  it('encode frames byte for byte as the codec would, with each record encoded once', () => {
    // 0, 15, 16 and 70,000 records: the fixarray, array 16 and array 32 headers.
    // Decoded back too, up to the member bound (a 16-bit count above 255 included).
    const decodeLarge = syncFrameDecoder(64 * 1024 * 1024);
    for (const n of [0, 1, 15, 16, 300, 16_384, 70_000]) {
      const alive = Array.from({ length: n }, () => record);
      const all: SyncFrame[] = [
        { t: 'push', have: new Uint8Array(50), alive, state: Uint8Array.of(1) },
        { t: 'pull', alive, want: [0, 3], state: Uint8Array.of(2) },
        { t: 'done', alive },
      ];
      for (const frame of all) {
        const bytes = encodeSyncFrame(frame);
        assert.ok(Buffer.from(bytes).equals(encode(frame)), `${n}`);
        // Into recyclable memory (as push-pull sends it): the same bytes, exactly as long.
        const taken = encodeSyncFrame(frame, takeBytes);
        assert.ok(isLoaned(taken) || taken.length > 8 * 1024 * 1024, `${n}: taken`);
        assert.ok(Buffer.from(taken).equals(bytes), `${n}: taken`);
        recycleBytes(taken);
        const back = decodeLarge(bytes);
        if (n > 16_384) assert.equal(back, undefined, `${n} records are over the member bound`);
        else assert.equal(back?.alive.length, n, `${n}`);
      }
    }
    // Byte fields across the bin 8, 16 and 32 headers.
    for (const size of [0, 255, 256, 65_535, 65_536, 70_000]) {
      const bytes = new Uint8Array(size).map((_, i) => i & 0xff);
      const frame: SyncFrame = { t: 'push', have: bytes, alive: [record], state: bytes };
      assert.ok(Buffer.from(encodeSyncFrame(frame)).equals(encode(frame)), `bin of ${size}`);
    }
  });

  it('reject structurally wrong input with undefined', () => {
    assert.equal(
      decodePiggyback(encode({ k: 'ub', id: 'x'.repeat(81), r: record })),
      undefined,
      'id too long',
    );
    assert.equal(decodePiggyback(encode({ k: 'zz', r: record })), undefined);
    assert.equal(
      decodePiggyback(encode({ k: 'kv', r: { ...record, signature: Uint8Array.of(1) } })),
      undefined,
    );
    assert.equal(decodeFrame(encode({ t: 'push', alive: 'no', state: Uint8Array.of(1) })), undefined);
    assert.equal(syncFrameDecoder(4)(encodeSyncFrame(frames[0]!)), undefined, 'over the frame bound');
    // Unknown keys are skipped, but a map announcing more entries than a frame has fields is
    // refused before any entry is read.
    const padded = (extra: number) => {
      const fields: Record<string, unknown> = { ...frames[0]! };
      for (let i = 0; i < extra; i++) fields[`x${i}`] = null;
      return encode(fields);
    };
    const known = Object.keys(frames[0]!).length;
    assert.notEqual(decodeFrame(padded(SYNC_FRAME_MAX_FIELDS - known)), undefined, 'unknown keys skipped');
    assert.equal(
      decodeFrame(padded(SYNC_FRAME_MAX_FIELDS - known + 1)),
      undefined,
      'more entries than fields',
    );
    const pull = (want: unknown) => encode({ t: 'pull', alive: [], want, state: Uint8Array.of(1) });
    assert.equal(decodeFrame(pull([-1])), undefined, 'negative want');
    assert.equal(decodeFrame(pull([1.5])), undefined, 'fractional want');
    assert.equal(decodeFrame(pull([16_384])), undefined, 'want past the member bound');
    assert.equal(
      decodeFrame(encode({ t: 'push', alive: [], state: Uint8Array.of(1) })),
      undefined,
      'no have',
    );
  });

  it('decode frames as the codec and a whole-frame validator do, records shared or not', () => {
    // The reference: the whole frame decoded by the codec and validated in one piece.
    const Record = SignedRecordValidator as Validator<SignedRecord>;
    const alive = v.array(Record, { maxLength: 16_384 });
    const state = v.bytes({ maxLength: 64 * 1024 });
    const want = v.array(v.uint({ max: 16_383 }), { maxLength: 16_384 });
    const reference = v.tagged('t', {
      push: v.object({ t: v.literal('push'), have: v.bytes(), alive, state }),
      pull: v.object({ t: v.literal('pull'), alive, want, state }),
      done: v.object({ t: v.literal('done'), alive, state: v.optional(state) }),
    });
    // Records this process never encoded for a frame (fresh signatures): decoded one by one.
    const fresh = (n: number) => signRecord(identity, n, Uint8Array.of(n), simulatedScheme);
    const cold: SyncFrame[] = [
      { t: 'done', alive: [fresh(1), fresh(2)] },
      { t: 'pull', alive: [fresh(3)], want: [1], state: Uint8Array.of(5) },
    ];
    const valid = [
      ...frames.map((f) => encodeSyncFrame(f)),
      ...cold.map((f) => encode(f)),
      encode({ ...frames[0]!, x: [1] }),
    ];
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...valid), mutated(valid)), (bytes) => {
        const mine = decodeFrame(bytes);
        const theirs = tryDecode(bytes, reference, 64 * 1024);
        assert.deepEqual(plain(mine), plain(theirs));
      }),
      { numRuns: 3_000, seed: 43 },
    );
    // A shared record comes back as the shared object itself; a cold one as an equal copy.
    const shared = decodeFrame(encodeSyncFrame(frames[0]!));
    assert.equal(shared?.alive[0], record);
    const copy = decodeFrame(encode(cold[0]!));
    assert.ok(copy !== undefined && copy.alive[0] !== cold[0]!.alive[0]);
    assert.deepEqual(plain(copy.alive), plain(cold[0]!.alive));
  });

  it('never throw on arbitrary or mutated bytes (decodeDirect throws DECODE_FAILED only)', () => {
    const valid = [...items.map(encodePiggyback), ...frames.map((f) => encodeSyncFrame(f)), encode(record)];
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 512 }), mutated(valid)), (bytes) => {
        const p = decodePiggyback(bytes);
        if (p !== undefined) assert.ok(p.k === 'kv' || p.k === 'ub');
        const f = decodeFrame(bytes);
        if (f !== undefined) assert.ok(['push', 'pull', 'done'].includes(f.t));
        try {
          decodeDirect(bytes);
        } catch (err) {
          assert.ok(err instanceof CairnError && err.code === 'DECODE_FAILED', String(err));
        }
      }),
      { numRuns: 2_000, seed: 42 },
    );
  });
});
