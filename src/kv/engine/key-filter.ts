import { readU32BE } from '../../core/index.js';

/**
 * A Bloom filter over data keys, hashed by the key's token (bytes 1-8 of a data key: a uniform
 * 64-bit hash already, so no hashing here): `mayHold` false means the key was never added.
 * Double hashing (Kirsch and Mitzenmacher): probe i is `h1 + i * h2` over a power-of-two table.
 */
export class KeyFilter {
  private readonly words: Uint32Array;
  private readonly mask: number;
  /** Adds that set at least one bit: distinct keys, less the few a false positive hid. */
  private distinct = 0;

  /** @param bits the table's size in bits: a power of two, 2^5 to 2^31 */
  constructor(readonly bits: number) {
    if (!Number.isInteger(Math.log2(bits)) || bits < 32 || bits > 2 ** 31) {
      throw new RangeError(`a key filter's size must be a power of two from 2^5 to 2^31 bits, got ${bits}`);
    }
    this.words = new Uint32Array(bits / 32);
    this.mask = bits - 1;
  }

  /** Keys added so far (distinct, approximately). */
  get keys(): number {
    return this.distinct;
  }

  /** Adds the data key `storageKey`. */
  add(storageKey: Uint8Array): void {
    const h1 = readU32BE(storageKey, 1);
    const h2 = readU32BE(storageKey, 5) | 1;
    let fresh = false;
    for (let i = 0; i < PROBES; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      const word = bit >>> 5;
      const flag = 1 << (bit & 31);
      if ((this.words[word]! & flag) === 0) {
        this.words[word]! |= flag;
        fresh = true;
      }
    }
    if (fresh) this.distinct++;
  }

  /** False when `storageKey` was certainly never added. */
  mayHold(storageKey: Uint8Array): boolean {
    const h1 = readU32BE(storageKey, 1);
    const h2 = readU32BE(storageKey, 5) | 1;
    for (let i = 0; i < PROBES; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      if ((this.words[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

/**
 * Probes per key. With 10 bits per key (where {@link StoredKeys} grows its filter), 6 probes give
 * about 0.8 % false positives; with the 20 bits per key a filter is made with, about 0.02 %.
 */
const PROBES = 6;
/** Bits per expected key when a filter is made: it may double its keys before it counts as full. */
const BITS_PER_KEY = 20;
/** A filter with fewer than this many bits per key is full: a larger one is built. */
const FULL_BITS_PER_KEY = 10;
/** The smallest filter (16 KiB), or a quarter of the largest when that is smaller. */
const MIN_BITS = 2 ** 17;
/** Failed builds after which a store stops building (it reads as without a filter). */
const MAX_FAILED_BUILDS = 3;

/**
 * Which data keys a replica store may hold, so that a write of a key it never stored (and a read
 * of one) skips the storage lookup: without it, a key's first write costs a LevelDB read that finds
 * nothing (the memtable's skip list and every level's bloom filter), the largest cost left of an
 * insert on a replica.
 *
 * Contract, kept by the store: every data key is added before the batch that writes it starts;
 * deletes remove nothing (a purged key stays a false positive). A filter is only trusted once it
 * covers the whole storage: {@link beginBuild} makes one that every later add also reaches, and
 * the store scans its data keys into it from a moment when no batch is in flight, then calls
 * {@link finishBuild}. Until the first build finishes, or when it fails, `mayHold` says true (the
 * store reads as it would without a filter). When the trusted filter fills (fewer than 10 bits per
 * key), `needsBuild` asks for one twice as large, up to `maxBits`; at that size it keeps filling and
 * its false positives rise, which only costs reads.
 */
export class StoredKeys {
  private readonly maxBits: number;
  private trusted: KeyFilter | undefined;
  private building: KeyFilter | undefined;
  /** Builds that failed (a storage error during the scan); after {@link MAX_FAILED_BUILDS}, no more. */
  private failures = 0;

  /** @param maxBits the largest filter, rounded down to a power of two (below 32: never build one) */
  constructor(maxBits: number) {
    this.maxBits = maxBits >= 32 ? 2 ** Math.floor(Math.log2(Math.min(maxBits, 2 ** 31))) : 0;
  }

  /** False when no data key equal to `storageKey` is in storage. */
  mayHold(storageKey: Uint8Array): boolean {
    return this.trusted === undefined || this.trusted.mayHold(storageKey);
  }

  /** Records a data key about to be written. */
  add(storageKey: Uint8Array): void {
    this.trusted?.add(storageKey);
    this.building?.add(storageKey);
  }

  /** True when a build should start: none trusted yet, or the trusted one is full and may grow. */
  needsBuild(): boolean {
    if (this.building !== undefined || this.maxBits === 0 || this.failures >= MAX_FAILED_BUILDS) return false;
    const t = this.trusted;
    return t === undefined || (t.keys * FULL_BITS_PER_KEY > t.bits && t.bits < this.maxBits);
  }

  /**
   * Starts a filter sized for `expectedKeys` (at least twice the trusted one's keys): every add
   * from now on reaches it. The caller scans storage's data keys into it and calls `finishBuild`.
   */
  beginBuild(expectedKeys: number): KeyFilter {
    const want = Math.max(expectedKeys, 2 * (this.trusted?.keys ?? 0)) * BITS_PER_KEY;
    let bits = Math.max(32, Math.min(MIN_BITS, this.maxBits / 4));
    while (bits < want && bits < this.maxBits) bits *= 2;
    this.building = new KeyFilter(bits);
    return this.building;
  }

  /** Ends the build of `filter`: trusted from now on when `complete`, dropped otherwise. */
  finishBuild(filter: KeyFilter, complete: boolean): void {
    if (this.building !== filter) return;
    this.building = undefined;
    if (complete) this.trusted = filter;
    else this.failures++;
  }

  /** Whether a trusted filter answers `mayHold` (for tests and stats). */
  get ready(): boolean {
    return this.trusted !== undefined;
  }
}
