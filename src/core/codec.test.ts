import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decode, decodeUnchecked, encode, msgpackValueEnd, tryDecode } from './codec.js';
import { isCairnError } from './errors.js';
import { type Infer, v } from './validate.js';

const Ping = v.object({
  type: v.literal('ping'),
  seq: v.uint(),
  from: v.string({ maxLength: 64 }),
  payload: v.optional(v.bytes({ maxLength: 16 })),
  tags: v.array(v.string({ maxLength: 8 }), { maxLength: 4 }),
});
type Ping = Infer<typeof Ping>;

describe('codec', () => {
  it('round-trips a validated message, bytes included', () => {
    const msg: Ping = { type: 'ping', seq: 7, from: 'n1', payload: new Uint8Array([1, 2, 3]), tags: ['a'] };
    const back = decode(encode(msg), Ping);
    assert.equal(back.seq, 7);
    assert.ok(back.payload instanceof Uint8Array);
    assert.deepEqual([...back.payload!], [1, 2, 3]);
  });

  it('names the bad field when validation fails', () => {
    const bad = encode({ type: 'ping', seq: -1, from: 'n1', tags: [] });
    assert.throws(
      () => decode(bad, Ping),
      (err) => isCairnError(err, 'DECODE_FAILED') && /\$\.seq/.test(err.message),
    );
    const long = encode({ type: 'ping', seq: 1, from: 'n1', tags: ['a', 'b', 'c', 'd', 'e'] });
    assert.throws(() => decode(long, Ping), /\$\.tags: expected an array of at most 4 items/);
  });

  it('rejects empty input, trailing garbage and oversized input', () => {
    assert.throws(
      () => decode(new Uint8Array(), Ping),
      (e) => isCairnError(e, 'DECODE_FAILED'),
    );
    const ok = encode({ type: 'ping', seq: 1, from: 'n', tags: [] });
    const trailing = new Uint8Array([...ok, 0xc0]);
    assert.throws(() => decode(trailing, Ping), /expected one MessagePack value/);
    assert.throws(
      () => decode(ok, Ping, 4),
      (e) => isCairnError(e, 'LIMIT_EXCEEDED'),
    );
  });

  it('never throws anything but a CairnError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decode(bytes, Ping);
        } catch (err) {
          assert.ok(isCairnError(err), `unexpected ${String(err)}`);
        }
        tryDecode(bytes, Ping);
      }),
      { numRuns: 2000 },
    );
  });

  it('validates tagged unions by their tag', () => {
    const Msg = v.tagged('t', {
      a: v.object({ t: v.literal('a'), x: v.int() }),
      b: v.object({ t: v.literal('b'), y: v.string() }),
    });
    assert.deepEqual(decode(encode({ t: 'b', y: 'z', extra: 1 }), Msg), { t: 'b', y: 'z' });
    assert.throws(() => decode(encode({ t: 'c' }), Msg), /\$\.t: expected one of a, b/);
  });
});

describe('msgpackValueEnd', () => {
  // Values of every MessagePack family the codec writes: ints of each width, floats, strings and
  // byte arrays across the 8/16-bit length boundaries, arrays and maps past 15 and 65,535 entries.
  const value = fc.letrec((tie) => ({
    leaf: fc.oneof(
      fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
      fc.constantFrom(0, -1, 127, 128, -32, -33, 255, 256, 65_535, 65_536, 2 ** 40, -(2 ** 40)),
      fc.double({ noNaN: true }),
      fc.string({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom(null, true, false),
    ),
    node: fc.oneof(
      { depthSize: 'small' },
      tie('leaf'),
      fc.array(tie('node'), { maxLength: 20 }),
      fc.dictionary(fc.string({ maxLength: 8 }), tie('node'), { maxKeys: 20 }),
    ),
  })).node;

  it('finds the end of any encoded value, also followed by more bytes', () => {
    fc.assert(
      fc.property(value, fc.uint8Array({ maxLength: 8 }), (x, tail) => {
        const bytes = new Uint8Array(encode(x));
        const n = bytes.length;
        assert.equal(msgpackValueEnd(bytes), n);
        const padded = new Uint8Array(3 + n + tail.length);
        padded.set(bytes, 3);
        padded.set(tail, 3 + n);
        assert.equal(msgpackValueEnd(padded, 3), 3 + n);
      }),
      { numRuns: 500, seed: 5 },
    );
  });

  it('answers -1 for every truncation', () => {
    fc.assert(
      fc.property(value, (x) => {
        const bytes = new Uint8Array(encode(x));
        for (let cut = 0; cut < bytes.length; cut++) assert.equal(msgpackValueEnd(bytes, 0, cut), -1);
      }),
      { numRuns: 200, seed: 6 },
    );
  });

  it('handles 16- and 32-bit array and map headers, and rejects the unused code', () => {
    const big = new Array<number>(70_000).fill(1);
    const bytes = new Uint8Array(
      encode({ a: big, b: Object.fromEntries(big.slice(0, 70).map((_, i) => [`k${i}`, i])) }),
    );
    assert.equal(msgpackValueEnd(bytes), bytes.length);
    assert.equal(msgpackValueEnd(Uint8Array.of(0xc1)), -1);
    // A forged array32 count far beyond the bytes: rejected at once, not looped over.
    assert.equal(msgpackValueEnd(Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2)), -1);
  });

  it('agrees with the decoder on arbitrary bytes: a value that decodes alone spans them all', () => {
    fc.assert(
      // msgpackr reads the unused code 0xc1 as its own extension; MessagePack never writes it.
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        if (bytes.includes(0xc1)) return;
        let decodes = true;
        try {
          decodeUnchecked(bytes);
        } catch {
          decodes = false;
        }
        if (decodes) assert.equal(msgpackValueEnd(bytes), bytes.length);
      }),
      { numRuns: 2000, seed: 8 },
    );
  });
});
