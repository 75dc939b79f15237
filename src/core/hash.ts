import { createHash } from 'node:crypto';

/** Non-cryptographic and cryptographic hashes shared by every brick. */

/** 32-bit FNV-1a of a string's UTF-16 code units: fast, stable, for buckets and tie-breaks. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * An incremental 64-bit FNV-1a hash: fast, allocation-free and identical on every platform; the
 * simulator's trace hash mixes every delivered event (and every packet's bytes) into one.
 *
 * The state is two 32-bit halves. One step is `h = (h ^ byte) * (2^40 + 0x1b3) mod 2^64`; with
 * `h = hi * 2^32 + lo`, `lo * 0x1b3` is below 2^41 (exact in a double) and its high part carries
 * into `hi`, and the `2^40` term adds `lo << 8` to `hi` (mod 2^32). A property test checks it
 * against a BigInt reference.
 */
export class Fnv64 {
  private lo = 0x84222325;
  private hi = 0xcbf29ce4;

  /** Mixes one byte. */
  byte(x: number): this {
    const lo = (this.lo ^ (x & 0xff)) >>> 0;
    const t = lo * 0x1b3;
    this.hi = (this.hi * 0x1b3 + Math.floor(t / 0x100000000) + ((lo << 8) >>> 0)) >>> 0;
    this.lo = t >>> 0;
    return this;
  }

  /** Mixes one unsigned 32-bit word (as four bytes, little-endian). */
  word(x: number): this {
    this.byte(x & 0xff);
    this.byte((x >>> 8) & 0xff);
    this.byte((x >>> 16) & 0xff);
    return this.byte((x >>> 24) & 0xff);
  }

  /** Mixes a number (its integer and fractional parts, so 1.5 and 1 differ). */
  number(x: number): this {
    const int = Math.floor(x);
    this.word(int >>> 0);
    this.word(Math.floor(int / 0x100000000) >>> 0);
    return this.word(Math.round((x - int) * 1e6) >>> 0);
  }

  /** Mixes a string's UTF-16 code units and its length. */
  string(s: string): this {
    this.word(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      this.byte(c & 0xff);
      this.byte(c >>> 8);
    }
    return this;
  }

  /** Mixes bytes and their length (the byte loop runs on locals: it is the hot path). */
  bytes(b: Uint8Array): this {
    this.word(b.length);
    let lo = this.lo;
    let hi = this.hi;
    for (let i = 0; i < b.length; i++) {
      lo = (lo ^ b[i]!) >>> 0;
      const t = lo * 0x1b3;
      hi = (hi * 0x1b3 + Math.floor(t / 0x100000000) + ((lo << 8) >>> 0)) >>> 0;
      lo = t >>> 0;
    }
    this.lo = lo;
    this.hi = hi;
    return this;
  }

  /** The hash as 16 hex digits. */
  hex(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }
}

/** SHA-256 digest. */
export function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}
