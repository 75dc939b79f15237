import { bytesEqual, CairnError, sha256 } from '../../core/index.js';

/**
 * The snapshot image of an MVCC store: every Storage entry the store owns (revision records,
 * meta, leases; keys without the store's prefix), framed and checksummed:
 *
 *   "CAIRNMV1" | (u32 keyLength, key, u32 valueLength, value)* | sha256 of all before (32 bytes)
 *
 * A custom frame rather than MessagePack: an image may hold millions of entries, beyond the
 * codec's per-message item limits, and it is checked end to end by the hash anyway.
 */
const MAGIC = new TextEncoder().encode('CAIRNMV1');

/** Builds an image; throws `LIMIT_EXCEEDED` as soon as it would pass `maxBytes`. */
export class ImageWriter {
  private readonly parts: Uint8Array[] = [MAGIC];
  private size = MAGIC.length + 32;

  constructor(private readonly maxBytes: number) {}

  add(key: Uint8Array, value: Uint8Array): void {
    this.size += 8 + key.length + value.length;
    if (this.size > this.maxBytes) {
      throw new CairnError(
        'LIMIT_EXCEEDED',
        `the MVCC snapshot image is over maxSnapshotBytes=${this.maxBytes}; compact the store or raise the limit`,
        { details: { limit: 'maxSnapshotBytes', max: this.maxBytes } },
      );
    }
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, key.length);
    const mid = new Uint8Array(4);
    new DataView(mid.buffer).setUint32(0, value.length);
    this.parts.push(head, key, mid, value);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    out.set(sha256(out.subarray(0, at)), at);
    return out;
  }
}

/**
 * Parses and checks an image.
 *
 * @throws CairnError `DECODE_FAILED` for a wrong magic, a bad frame or a checksum mismatch
 */
export function readImage(data: Uint8Array, maxBytes: number): Array<[Uint8Array, Uint8Array]> {
  const bad = (why: string) => new CairnError('DECODE_FAILED', `MVCC snapshot image rejected: ${why}`);
  if (data.length > maxBytes) throw bad(`${data.length} bytes is over maxSnapshotBytes=${maxBytes}`);
  if (data.length < MAGIC.length + 32 || !bytesEqual(data.subarray(0, MAGIC.length), MAGIC)) {
    throw bad('not an MVCC image');
  }
  const body = data.length - 32;
  if (!bytesEqual(sha256(data.subarray(0, body)), data.subarray(body))) throw bad('checksum mismatch');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Array<[Uint8Array, Uint8Array]> = [];
  let at = MAGIC.length;
  while (at < body) {
    if (at + 4 > body) throw bad('truncated frame');
    const kl = view.getUint32(at);
    at += 4;
    if (at + kl + 4 > body) throw bad('truncated key');
    const key = data.slice(at, at + kl);
    at += kl;
    const vl = view.getUint32(at);
    at += 4;
    if (at + vl > body) throw bad('truncated value');
    out.push([key, data.slice(at, at + vl)]);
    at += vl;
  }
  return out;
}
