import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import fc from 'fast-check';
import { Unpackr } from 'msgpackr';
import { decode, decodeUnchecked, encode } from './codec.js';
import { isCairnError } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';
import { checkMsgpackShape, msgpackValueEnd } from './msgpack-scan.js';
import { v } from './validate.js';

/** An array 32 header for `n` elements, followed by `n` copies of `element`. */
function array32Of(n: number, element: number): Uint8Array {
  const bytes = new Uint8Array(5 + n).fill(element);
  bytes[0] = 0xdd;
  new DataView(bytes.buffer).setUint32(1, n);
  return bytes;
}

/** `depth` nested one-element arrays around a nil. */
function nested(depth: number): Uint8Array {
  const bytes = new Uint8Array(depth + 1).fill(0x91);
  bytes[depth] = 0xc0;
  return bytes;
}

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

const ANY = v.unknown();

/** Runs `f` with msgpackr's decoding entry point counted, and returns how often it ran. */
function msgpackrCalls(f: () => void): number {
  const spy = mock.method(Unpackr.prototype, 'unpackMultiple');
  try {
    f();
    return spy.mock.callCount();
  } finally {
    spy.mock.restore();
  }
}

function limitError(limit: string): (err: unknown) => boolean {
  return (err) => isCairnError(err, 'LIMIT_EXCEEDED') && err.details?.limit === limit;
}

describe('checkMsgpackShape', () => {
  it('rejects 4 MiB of empty maps before msgpackr builds any of them', () => {
    const bytes = array32Of(4 * 1024 * 1024 - 5, 0x80);
    const heapBefore = process.memoryUsage().heapUsed;
    const calls = msgpackrCalls(() =>
      assert.throws(() => decode(bytes, ANY), limitError('maxDecodeContainers')),
    );
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    assert.equal(calls, 0);
    // Decoding them built 4 million objects, about 256 MiB; a collection during the call can only
    // make the growth look smaller, so this bound cannot fail by chance.
    assert.ok(heapGrowth < 32 * 1024 * 1024, `heap grew by ${heapGrowth} bytes`);
  });

  it('hands a message at the container limit to msgpackr, and one more is rejected', () => {
    const max = DEFAULT_LIMITS.maxDecodeContainers;
    const atLimit = array32Of(max - 1, 0x90);
    assert.equal(
      msgpackrCalls(() => assert.equal((decode(atLimit, ANY) as unknown[]).length, max - 1)),
      1,
    );
    assert.throws(() => decode(array32Of(max, 0x90), ANY), limitError('maxDecodeContainers'));
  });

  it('bounds the values of a message, scalars included', () => {
    const max = DEFAULT_LIMITS.maxDecodeItems;
    assert.equal((decodeUnchecked(array32Of(max - 1, 0xc0)) as unknown[]).length, max - 1);
    const over = array32Of(max, 0xc0);
    assert.equal(
      msgpackrCalls(() => assert.throws(() => decodeUnchecked(over), limitError('maxDecodeItems'))),
      0,
    );
  });

  it('bounds nesting depth, which msgpackr follows by recursion', () => {
    const max = DEFAULT_LIMITS.maxDecodeDepth;
    assert.doesNotThrow(() => decode(nested(max), ANY));
    assert.throws(() => decode(nested(max + 1), ANY), limitError('maxDecodeDepth'));
    // Deep enough to overflow msgpackr's stack: refused by the count, not by a RangeError.
    assert.throws(() => decode(nested(1_000_000), ANY), limitError('maxDecodeDepth'));
  });

  it('checks string, byte and container lengths against the bytes left before msgpackr runs', () => {
    const forged = [
      Uint8Array.of(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61), // str 32 of 4 GiB, one byte present
      Uint8Array.of(0xc6, 0x7f, 0xff, 0xff, 0xff, 1, 2), // bin 32 of 2 GiB
      Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0), // array 32 of 4 billion nils
      Uint8Array.of(0xdf, 0x00, 0x01, 0x00, 0x00, 0xc0), // map 32 of 65,536 entries
      Uint8Array.of(0xa5, 0x61, 0x62), // fixstr of 5, 2 bytes present
      Uint8Array.of(0xcb, 0, 0, 0), // float 64, 3 bytes present
      Uint8Array.of(0xd9), // str 8 without its length
    ];
    for (const bytes of forged) {
      const calls = msgpackrCalls(() =>
        assert.throws(
          () => decodeUnchecked(bytes),
          (err) => isCairnError(err, 'DECODE_FAILED') && /cut short/.test(err.message),
        ),
      );
      assert.equal(calls, 0);
    }
  });

  it('refuses the unused code, extension types and trailing bytes', () => {
    const refused: [Uint8Array, RegExp][] = [
      [Uint8Array.of(0xc1), /unused code 0xc1 at byte 0/],
      [Uint8Array.of(0x91, 0xd6, 0xff, 0, 0, 0, 0), /extension type at byte 1/], // timestamp 32
      [Uint8Array.of(0xc7, 0x01, 0x42, 0x07), /extension type at byte 0/], // msgpackr's bigint
      [Uint8Array.of(0xd4, 0x00, 0x00), /extension type/],
      [Uint8Array.of(0xc0, 0xc0), /expected one MessagePack value, found 1 more bytes/],
    ];
    for (const [bytes, message] of refused) {
      assert.throws(
        () => checkMsgpackShape(bytes),
        (err) => isCairnError(err, 'DECODE_FAILED') && message.test(err.message),
      );
    }
  });

  it('accepts everything the codec encodes, and refuses every truncation of it', () => {
    fc.assert(
      fc.property(value, (x) => {
        const bytes = new Uint8Array(encode(x));
        checkMsgpackShape(bytes);
        for (let cut = 1; cut < bytes.length; cut++) {
          assert.throws(
            () => checkMsgpackShape(bytes.subarray(0, cut)),
            (err) => isCairnError(err, 'DECODE_FAILED'),
          );
        }
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  it('agrees with msgpackValueEnd on arbitrary bytes without extensions', () => {
    const isExtension = (b: number) => (b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        let accepted = true;
        try {
          checkMsgpackShape(bytes);
        } catch (err) {
          assert.ok(isCairnError(err, 'DECODE_FAILED') || isCairnError(err, 'LIMIT_EXCEEDED'));
          accepted = false;
        }
        if (accepted) assert.equal(msgpackValueEnd(bytes), bytes.length);
        else if (!bytes.some(isExtension)) assert.notEqual(msgpackValueEnd(bytes), bytes.length);
      }),
      { numRuns: 3000, seed: 12 },
    );
  });
});

describe('msgpackValueEnd', () => {
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
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
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
