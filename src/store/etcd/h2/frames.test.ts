import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ErrorCode, FrameParser, FrameType, H2ConnectionError, OutputBuffer } from './frames.js';

interface Parsed {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

function parserInto(out: Parsed[], maxFrameBytes?: number): FrameParser {
  return new FrameParser(
    {
      frame: (type, flags, streamId, buf, start, end) => {
        out.push({ type, flags, streamId, payload: Buffer.from(buf.subarray(start, end)) });
      },
    },
    maxFrameBytes,
  );
}

const frameArb = fc.record({
  type: fc.integer({ min: 0, max: 255 }),
  flags: fc.integer({ min: 0, max: 255 }),
  streamId: fc.integer({ min: 0, max: 0x7fffffff }),
  payload: fc.uint8Array({ maxLength: 300 }),
});

describe('FrameParser', () => {
  it('cuts the same frames out of a byte stream however it is chunked (OutputBuffer as the writer)', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 400 })),
        (frames, cuts) => {
          const writer = new OutputBuffer();
          for (const f of frames) {
            writer.frameHeader(f.payload.length, f.type, f.flags, f.streamId);
            writer.bytes(f.payload, 0, f.payload.length);
          }
          const bytes = writer.take() ?? Buffer.alloc(0);
          const parsed: Parsed[] = [];
          const parser = parserInto(parsed);
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const size = cuts.length === 0 ? bytes.length : cuts[i % cuts.length]!;
            parser.push(bytes.subarray(at, at + size));
            at += size;
          }
          assert.equal(parser.bufferedBytes, 0);
          assert.deepEqual(
            parsed,
            frames.map((f) => ({ ...f, payload: Buffer.from(f.payload) })),
          );
        },
      ),
    );
  });

  it('refuses a frame over its maximum from its header alone', () => {
    const parsed: Parsed[] = [];
    const parser = parserInto(parsed, 16384);
    const header = Buffer.from([0x00, 0x40, 0x01, FrameType.DATA, 0, 0, 0, 0, 1]);
    assert.throws(
      () => {
        parser.push(header.subarray(0, 5));
        parser.push(header.subarray(5));
      },
      (err: unknown) => err instanceof H2ConnectionError && err.code === ErrorCode.FRAME_SIZE_ERROR,
    );
    assert.equal(parsed.length, 0);
  });

  it('clears the reserved bit of the stream id', () => {
    const parsed: Parsed[] = [];
    parserInto(parsed).push(Buffer.from([0, 0, 0, FrameType.PING, 0, 0x80, 0, 0, 3]));
    assert.equal(parsed[0]?.streamId, 3);
  });
});

describe('OutputBuffer', () => {
  it('grows past its scratch buffer and starts afresh after take', () => {
    const out = new OutputBuffer();
    const big = Buffer.alloc(40000, 7);
    out.frameHeader(big.length, FrameType.DATA, 0, 1);
    out.bytes(big, 0, big.length);
    const first = out.take()!;
    assert.equal(first.length, 9 + big.length);
    assert.equal(out.take(), undefined);
    out.uint32(0xdeadbeef);
    out.uint16(0x0102);
    out.byte(9);
    assert.deepEqual([...out.take()!], [0xde, 0xad, 0xbe, 0xef, 1, 2, 9]);
    assert.equal(first[9 + 39999], 7, 'the first flush is not overwritten by later ones');
  });

  it("merges a stream's consecutive DATA into one frame up to the frame size, and nothing across other frames", () => {
    const out = new OutputBuffer();
    const frames: Array<[number, number, number, number]> = [];
    const parser = new FrameParser(
      {
        frame: (type, flags, streamId, _buf, start, end) => frames.push([type, flags, streamId, end - start]),
      },
      16384,
    );
    out.data(1, Buffer.alloc(10, 1), 0, 10, 16384);
    out.data(1, Buffer.alloc(20, 2), 0, 20, 16384); // merged: 30
    out.data(3, Buffer.alloc(5, 3), 0, 5, 16384); // another stream: a new frame
    out.data(1, Buffer.alloc(7, 4), 0, 7, 16384); // not the last frame any more: a new frame
    out.frameHeader(0, FrameType.DATA, 1, 1); // END_STREAM frame closes the run
    out.data(1, Buffer.alloc(4, 5), 0, 4, 16384);
    out.data(1, Buffer.alloc(16382, 6), 0, 16382, 16384); // would pass the frame size: a new frame
    const bytes = out.take()!;
    parser.push(bytes);
    assert.deepEqual(frames, [
      [FrameType.DATA, 0, 1, 30],
      [FrameType.DATA, 0, 3, 5],
      [FrameType.DATA, 0, 1, 7],
      [FrameType.DATA, 1, 1, 0],
      [FrameType.DATA, 0, 1, 4],
      [FrameType.DATA, 0, 1, 16382],
    ]);
    assert.equal(bytes[9], 1);
    assert.equal(bytes[9 + 10], 2, "the merged frame's payload is the writes in order");
    out.data(1, Buffer.alloc(3), 0, 3, 16384);
    assert.equal(out.take()!.length, 12, 'take ends the run: the next turn starts a frame');
  });
});
