import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { concatBytes, isCairnError } from '../../core/index.js';
import { encodeFrame, type FrameBudget, FrameDecoder } from './frame-decoder.js';

/** A budget of `total` bytes that reports what is taken. */
function budgetOf(total: number): FrameBudget & { used: number } {
  return {
    used: 0,
    take(bytes) {
      if (this.used + bytes > total) return false;
      this.used += bytes;
      return true;
    },
    give(bytes) {
      this.used -= bytes;
    },
  };
}

function decodeAll(decoder: FrameDecoder, chunks: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  const keep = (f: Uint8Array): boolean => {
    out.push(Uint8Array.from(f));
    return true;
  };
  for (const chunk of chunks) decoder.push(chunk, keep);
  return out;
}

/** Splits `bytes` at the given cut points (any order, duplicates allowed). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    parts.push(bytes.subarray(prev, p));
    prev = p;
  }
  return parts;
}

describe('FrameDecoder', () => {
  it('decodes any frames cut into any chunks, in order and whole (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (frames, cuts) => {
          const wire = concatBytes(frames.map(encodeFrame));
          const decoder = new FrameDecoder(300);
          assert.deepEqual(decodeAll(decoder, split(wire, cuts)), frames);
          assert.equal(decoder.partial, false);
        },
      ),
    );
  });

  it('rejects an oversize header before allocating, also when the header arrives in pieces', () => {
    const decoder = new FrameDecoder(1000);
    decoder.push(Uint8Array.of(0xff, 0xff), () => true);
    assert.equal(decoder.partial, true);
    assert.throws(
      () => decoder.push(Uint8Array.of(0xff, 0xff), () => true),
      (err) => isCairnError(err, 'TRANSPORT_FRAME_TOO_LARGE'),
    );
  });

  it('accepts a frame of exactly the limit', () => {
    const frame = new Uint8Array(1000).fill(7);
    assert.deepEqual(decodeAll(new FrameDecoder(1000), [encodeFrame(frame)]), [frame]);
  });

  it('stops after the callback returns false and reports how much it consumed', () => {
    const wire = concatBytes([encodeFrame(Uint8Array.of(1)), encodeFrame(Uint8Array.of(2, 3))]);
    const decoder = new FrameDecoder(10);
    const seen: number[] = [];
    const used = decoder.push(wire, (f) => {
      seen.push(f[0]!);
      return false;
    });
    assert.deepEqual(seen, [1]);
    assert.equal(used, 5);
    assert.deepEqual(decodeAll(decoder, [wire.subarray(used)]), [Uint8Array.of(2, 3)]);
  });

  it('costs linear time for a frame trickled one byte at a time', () => {
    // 256 KiB one byte per push: quadratic concatenation would copy ~32 GiB and never finish.
    const frame = new Uint8Array(256 * 1024).fill(1);
    const wire = encodeFrame(frame);
    const decoder = new FrameDecoder(frame.length);
    let got: Uint8Array | undefined;
    for (let i = 0; i < wire.length; i++) {
      decoder.push(wire.subarray(i, i + 1), (f) => {
        got = f;
        return true;
      });
    }
    assert.equal(got?.length, frame.length);
  });

  it('takes a spanning frame from the budget before allocating it, and gives it back when done', () => {
    const budget = budgetOf(1000);
    const first = new FrameDecoder(10_000, budget);
    const second = new FrameDecoder(10_000, budget);
    const wire = encodeFrame(new Uint8Array(600).fill(3));
    first.push(wire.subarray(0, 10), () => true);
    assert.equal(budget.used, 600);
    // A second frame in flight would take the budget over 1000 bytes: refused, nothing allocated.
    assert.throws(
      () => second.push(wire.subarray(0, 10), () => true),
      (err) => isCairnError(err, 'LIMIT_EXCEEDED'),
    );
    assert.equal(budget.used, 600);
    let got = 0;
    first.push(wire.subarray(10), (f) => {
      got = f.length;
      return true;
    });
    assert.equal(got, 600);
    assert.equal(budget.used, 0);
    // A frame inside one chunk is a view and takes nothing; an abandoned one is given back.
    first.push(wire, () => true);
    first.push(wire.subarray(0, 5), () => true);
    assert.equal(budget.used, 600);
    first.release();
    assert.equal(budget.used, 0);
  });
});
