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
 * An incremental 64-bit FNV-1a hash kept in two 32-bit halves; the simulator's trace hash uses it
 * because it is fast, allocation-free and identical on every platform.
 */
export class Fnv64 {
  // The 64-bit state as four 16-bit limbs, least significant first, so that the multiply by the
  // FNV prime stays within exact double arithmetic.
  private h0 = 0x2325;
  private h1 = 0x8422;
  private h2 = 0x9ce4;
  private h3 = 0xcbf2;

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

  /** Mixes bytes and their length. */
  bytes(b: Uint8Array): this {
    this.word(b.length);
    for (let i = 0; i < b.length; i++) this.byte(b[i]!);
    return this;
  }

  /** Mixes one byte: xor into the low byte, multiply by the FNV-64 prime 0x100000001b3 mod 2^64. */
  byte(x: number): this {
    const h0 = this.h0 ^ (x & 0xff);
    const { h1, h2, h3 } = this;
    // prime limbs: p0 = 0x01b3, p1 = 0, p2 = 0x0100, p3 = 0
    let r0 = h0 * 0x1b3;
    let r1 = h1 * 0x1b3;
    let r2 = h2 * 0x1b3 + h0 * 0x100;
    let r3 = h3 * 0x1b3 + h1 * 0x100;
    r1 += Math.floor(r0 / 0x10000);
    r0 &= 0xffff;
    r2 += Math.floor(r1 / 0x10000);
    r1 &= 0xffff;
    r3 += Math.floor(r2 / 0x10000);
    r2 &= 0xffff;
    r3 &= 0xffff;
    this.h0 = r0;
    this.h1 = r1;
    this.h2 = r2;
    this.h3 = r3;
    return this;
  }

  /** The hash as 16 hex digits. */
  hex(): string {
    const limb = (n: number) => n.toString(16).padStart(4, '0');
    return limb(this.h3) + limb(this.h2) + limb(this.h1) + limb(this.h0);
  }
}

/** SHA-256 digest. */
export function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}
