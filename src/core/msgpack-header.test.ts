import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeUnchecked, encode } from './codec.js';
import {
  MSGPACK_ARRAY,
  MSGPACK_BIN,
  MSGPACK_MAP,
  type MsgpackHeaderCodes,
  msgpackHeaderBytes,
  writeMsgpackHeader,
} from './msgpack-header.js';

function header(codes: MsgpackHeaderCodes, n: number): Uint8Array {
  const out = new Uint8Array(8).fill(0xee);
  const end = writeMsgpackHeader(codes, n, out, 2);
  assert.equal(end - 2, msgpackHeaderBytes(codes, n), `length of the header of ${n}`);
  assert.equal(out[end], 0xee, 'nothing written past the header');
  return out.subarray(2, end);
}

const BOUNDARIES = [0, 1, 15, 16, 255, 256, 65_535, 65_536, 70_000];

describe('MessagePack headers', () => {
  it('are the codec own bytes for bin and arrays, at every width', () => {
    for (const n of BOUNDARIES) {
      const bin = encode(new Uint8Array(n));
      const h = header(MSGPACK_BIN, n);
      assert.deepEqual([...bin.subarray(0, h.length)], [...h], `bin ${n}`);
      assert.equal(bin.length, h.length + n);
      const array = encode(new Array<number>(n).fill(0));
      const a = header(MSGPACK_ARRAY, n);
      assert.deepEqual([...array.subarray(0, a.length)], [...a], `array ${n}`);
      assert.equal(array.length, a.length + n);
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300_000 }), (n) => {
        const bin = encode(new Uint8Array(n));
        const h = header(MSGPACK_BIN, n);
        assert.deepEqual([...bin.subarray(0, h.length)], [...h]);
      }),
      { numRuns: 200, seed: 11 },
    );
  });

  it('read back as maps of the given size', () => {
    for (const n of BOUNDARIES.filter((k) => k <= 70_000)) {
      const h = header(MSGPACK_MAP, n);
      const body: number[] = [];
      for (let i = 0; i < n; i++) body.push(...encode(`k${i}`), 0);
      const value = decodeUnchecked(Uint8Array.from([...h, ...body])) as Record<string, number>;
      assert.equal(Object.keys(value).length, n, `map ${n}`);
    }
  });
});
