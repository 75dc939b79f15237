import { assert } from './assert.js';
import { CairnError } from './errors.js';

/**
 * Chance, injected.
 *
 * Every random choice in Cairn goes through an {@link Rng} derived from one root seed. The
 * generator is sfc32 (small fast counting, 128 bits of state, period >= 2^32, passes PractRand to
 * terabytes), seeded through splitmix32 so that nearby seeds give unrelated streams.
 * Child streams are derived from the parent's *seed* and a label, never from its current state,
 * so adding a draw in one component does not shift the numbers another component sees.
 */

/** A seed: a safe integer or a string. */
export type Seed = number | string;

function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [next, z >>> 0];
}

/** FNV-1a over UTF-16 code units, then mixed; maps a seed's text to 32 bits. */
function seedWord(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return splitmix32(h)[1];
}

/**
 * A seeded pseudo-random generator with derived child streams.
 *
 * @example
 * ```ts
 * const root = Rng.fromSeed(42);
 * const net = root.child('net');      // same stream every run with seed 42
 * const delay = net.int(10);          // 0..9
 * ```
 */
export class Rng {
  /** The seed this stream was derived from (for logs and replay). */
  readonly seed: string;
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  private constructor(seed: string) {
    this.seed = seed;
    let s = seedWord(seed);
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(s);
      s = next;
      words.push(out);
    }
    this.a = words[0]!;
    this.b = words[1]!;
    this.c = words[2]!;
    this.d = words[3]!;
    // Discard the first outputs: sfc32's author recommends warming up the state.
    for (let i = 0; i < 12; i++) this.u32();
  }

  /**
   * A root stream for `seed`. A number and its decimal string give the same stream, so a seed
   * printed in a replay command and parsed back from the command line replays the run.
   */
  static fromSeed(seed: Seed): Rng {
    if (typeof seed === 'number' && !Number.isSafeInteger(seed)) {
      throw new CairnError('INVALID_ARGUMENT', `seed must be a safe integer or a string, got ${seed}`);
    }
    return new Rng(String(seed));
  }

  /** A fresh random seed from the operating system, for runs that print it for replay. */
  static randomSeed(): number {
    return Math.floor(Math.random() * 2 ** 48);
  }

  /** A child stream identified by `label`; the same parent seed and label give the same stream. */
  child(label: string | number): Rng {
    return new Rng(`${this.seed}/${label}`);
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1) with 53 bits of precision. */
  float(): number {
    const hi = this.u32() >>> 5; // 27 bits
    const lo = this.u32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** An integer in [0, maxExclusive); unbiased (rejection sampling). */
  int(maxExclusive: number): number {
    assert(
      Number.isSafeInteger(maxExclusive) && maxExclusive > 0,
      `int() bound must be a positive integer, got ${maxExclusive}`,
    );
    if (maxExclusive <= 0x100000000) {
      const limit = 0x100000000 - (0x100000000 % maxExclusive);
      for (;;) {
        const x = this.u32();
        if (x < limit) return x % maxExclusive;
      }
    }
    return Math.floor(this.float() * maxExclusive);
  }

  /** An integer in [min, max] inclusive. */
  range(min: number, max: number): number {
    assert(max >= min, `range(${min}, ${max}) is empty`);
    return min + this.int(max - min + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.float() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick() from an empty array');
    return items[this.int(items.length)]!;
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  /** Up to `k` distinct elements of `items`, in random order, without modifying `items`. */
  sample<T>(items: readonly T[], k: number): T[] {
    const n = items.length;
    const take = Math.min(k, n);
    if (take <= 0) return [];
    // Partial Fisher-Yates on an index map: O(k) time and memory, also for large arrays.
    const swapped = new Map<number, number>();
    const out: T[] = [];
    for (let i = 0; i < take; i++) {
      const j = i + this.int(n - i);
      const vj = swapped.get(j) ?? j;
      const vi = swapped.get(i) ?? i;
      swapped.set(j, vi);
      out.push(items[vj]!);
    }
    return out;
  }

  /** An exponentially distributed value with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.float());
  }

  /** A normally distributed value (Box-Muller). */
  normal(mean: number, stddev: number): number {
    const u = 1 - this.float();
    const v = this.float();
    return mean + stddev * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const x = this.u32();
      out[i] = x & 0xff;
      if (i + 1 < n) out[i + 1] = (x >>> 8) & 0xff;
      if (i + 2 < n) out[i + 2] = (x >>> 16) & 0xff;
      if (i + 3 < n) out[i + 3] = (x >>> 24) & 0xff;
    }
    return out;
  }
}
