import { CairnError } from '../../core/index.js';

/** Bytes of the frame header: a 4-byte big-endian payload length. */
export const FRAME_HEADER_BYTES = 4;

/**
 * Called for each complete frame; return `false` to stop decoding the current chunk (the rest is
 * left for the caller, see {@link FrameDecoder.push}).
 */
export type FrameCallback = (frame: Uint8Array) => boolean;

/**
 * Memory shared by the decoders of one transport for frames still arriving. `take` reserves the
 * buffer of a frame that spans chunks before it is allocated (false: refused); `give` returns it
 * once the frame was delivered or its stream ended.
 */
export interface FrameBudget {
  take(bytes: number): boolean;
  give(bytes: number): void;
}

/**
 * Incremental decoder of length-prefixed frames: `u32be length || payload`.
 *
 * Cost is linear in the bytes pushed: a frame that lies inside one chunk is delivered as a view of
 * that chunk (no copy); a frame that spans chunks is copied once into a buffer of exactly its
 * size, allocated only after its length has been checked against the limit. Partial chunks are
 * never concatenated, so a peer trickling one byte at a time costs O(n), not O(n^2).
 *
 * Contract: frames are delivered in order, whole, exactly once. A header announcing more than
 * `maxFrameBytes` throws `TRANSPORT_FRAME_TOO_LARGE` before anything of that size is allocated,
 * and one whose buffer the budget refuses throws `LIMIT_EXCEEDED`;
 * after a throw the decoder must not be used again. Views delivered to the callback alias the
 * pushed chunk: a consumer that keeps a frame beyond the callback while the chunk's owner may
 * reuse it must copy it (Node sockets never reuse their read buffers).
 *
 * @example
 * ```ts
 * const d = new FrameDecoder(1024);
 * d.push(chunk, (frame) => { handle(frame); return true; });
 * ```
 */
export class FrameDecoder {
  private headerFill = 0;
  private headerValue = 0;
  private body: Uint8Array | undefined = undefined;
  private bodyFill = 0;

  /**
   * @param maxFrameBytes - the largest payload accepted (may be raised later, see NetStream)
   * @param budget - shared memory for frames that span chunks; default unbounded
   */
  constructor(
    public maxFrameBytes: number,
    private readonly budget?: FrameBudget,
  ) {}

  /** True when bytes of an unfinished frame (header or payload) are held. */
  get partial(): boolean {
    return this.headerFill > 0 || this.body !== undefined;
  }

  /** Gives an unfinished frame's buffer back to the budget; call once the stream has ended. */
  release(): void {
    if (this.body !== undefined) this.budget?.give(this.body.length);
    this.body = undefined;
    this.bodyFill = 0;
  }

  /**
   * Decodes `chunk`, calling `onFrame` for each complete frame.
   *
   * @returns the number of bytes of `chunk` consumed: `chunk.length` unless `onFrame` returned
   * false, in which case it is the offset just past that frame.
   */
  push(chunk: Uint8Array, onFrame: FrameCallback): number {
    const n = chunk.length;
    let off = 0;
    while (off < n) {
      let body = this.body;
      if (body === undefined) {
        let len: number;
        if (this.headerFill === 0 && n - off >= FRAME_HEADER_BYTES) {
          len =
            chunk[off]! * 0x1000000 + ((chunk[off + 1]! << 16) | (chunk[off + 2]! << 8) | chunk[off + 3]!);
          off += FRAME_HEADER_BYTES;
        } else {
          while (this.headerFill < FRAME_HEADER_BYTES && off < n) {
            this.headerValue = this.headerValue * 256 + chunk[off]!;
            this.headerFill++;
            off++;
          }
          if (this.headerFill < FRAME_HEADER_BYTES) return n;
          len = this.headerValue;
          this.headerFill = 0;
          this.headerValue = 0;
        }
        if (len > this.maxFrameBytes) {
          throw new CairnError(
            'TRANSPORT_FRAME_TOO_LARGE',
            `peer announced a frame of ${len} bytes, over maxFrameBytes=${this.maxFrameBytes}`,
            { details: { length: len, max: this.maxFrameBytes } },
          );
        }
        if (n - off >= len) {
          const frame = chunk.subarray(off, off + len);
          off += len;
          if (!onFrame(frame)) return off;
          continue;
        }
        if (this.budget !== undefined && !this.budget.take(len)) {
          throw new CairnError(
            'LIMIT_EXCEEDED',
            `peer announced a frame of ${len} bytes, more than the transport's budget for frames in flight has left`,
            { details: { length: len } },
          );
        }
        body = Buffer.allocUnsafe(len);
        this.body = body;
        this.bodyFill = 0;
      }
      const take = Math.min(n - off, body.length - this.bodyFill);
      body.set(chunk.subarray(off, off + take), this.bodyFill);
      this.bodyFill += take;
      off += take;
      if (this.bodyFill === body.length) {
        this.body = undefined;
        this.bodyFill = 0;
        this.budget?.give(body.length);
        if (!onFrame(body)) return off;
      }
    }
    return n;
  }
}

/** Encodes one frame (header and payload) into a new buffer; for cold paths and tests. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}
