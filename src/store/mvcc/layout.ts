import { CairnError, compareBytes, decodeUnchecked, encode, readU32BE } from '../../core/index.js';
import type { KeyValue } from '../api.js';

/**
 * The MVCC store's key layout in its `Storage` (all keys behind an optional prefix):
 *
 * - `r` + main (8 bytes big-endian) + sub (8 bytes big-endian) → one revision record: the key's
 *   state written at that revision (a put), or a tombstone (a delete). Records are append-only;
 *   only compaction removes them.
 * - `m` + name → meta: `ci` consistent (applied raft) index, `rev` current revision, `cr`
 *   compact revision, `cf` compaction finished up to, `rs` restore in progress, `mb` member data.
 * - `l` + id (8 bytes big-endian) → one lease: granted TTL and checkpointed remaining TTL.
 */

/** A revision: `main` is the store revision of a write, `sub` orders writes inside it. */
export interface Rev {
  readonly main: number;
  readonly sub: number;
}

const TWO_32 = 2 ** 32;

/**
 * Writes `n` (a safe non-negative integer) as 8 bytes big-endian at `offset`. Byte stores, not a
 * DataView: a record key is a small array V8 keeps on its heap, and reading `.buffer` of one moves
 * its bytes to a new off-heap backing store (about 0.5-1 us per key; byte stores about 40 ns).
 */
export function writeU64(out: Uint8Array, offset: number, n: number): void {
  const hi = Math.floor(n / TWO_32);
  const lo = n >>> 0;
  out[offset] = hi >>> 24;
  out[offset + 1] = hi >>> 16;
  out[offset + 2] = hi >>> 8;
  out[offset + 3] = hi;
  out[offset + 4] = lo >>> 24;
  out[offset + 5] = lo >>> 16;
  out[offset + 6] = lo >>> 8;
  out[offset + 7] = lo;
}

/** Reads 8 bytes big-endian at `offset` (byte loads, for the reason given at {@link writeU64}). */
export function readU64(bytes: Uint8Array, offset: number): number {
  return readU32BE(bytes, offset) * TWO_32 + readU32BE(bytes, offset + 4);
}

/** The byte sequences of the store's key areas, behind a prefix. */
export class Layout {
  private readonly recordPrefix: Uint8Array;
  private readonly metaPrefix: Uint8Array;
  private readonly leasePrefix: Uint8Array;

  constructor(readonly prefix: Uint8Array = new Uint8Array(0)) {
    this.recordPrefix = this.withPrefix(0x72); // 'r'
    this.metaPrefix = this.withPrefix(0x6d); // 'm'
    this.leasePrefix = this.withPrefix(0x6c); // 'l'
  }

  /** The storage key of the record at `main`/`sub`. */
  recordKey(main: number, sub: number): Uint8Array {
    const p = this.recordPrefix.length;
    const out = new Uint8Array(p + 16);
    out.set(this.recordPrefix, 0);
    writeU64(out, p, main);
    writeU64(out, p + 8, sub);
    return out;
  }

  /** The revision a record key names; undefined when `key` is not a record key. */
  recordRev(key: Uint8Array): Rev | undefined {
    const p = this.recordPrefix.length;
    if (key.length !== p + 16 || !startsWith(key, this.recordPrefix)) return undefined;
    return { main: readU64(key, p), sub: readU64(key, p + 8) };
  }

  /** The first storage key past every record (exclusive bound of the record area). */
  recordEnd(): Uint8Array {
    return this.withPrefix(0x73);
  }

  /** The first record key (inclusive bound of the record area). */
  recordStart(): Uint8Array {
    return this.recordPrefix;
  }

  metaKey(name: MetaName): Uint8Array {
    const tail = new TextEncoder().encode(name);
    const out = new Uint8Array(this.metaPrefix.length + tail.length);
    out.set(this.metaPrefix, 0);
    out.set(tail, this.metaPrefix.length);
    return out;
  }

  leaseKey(id: number): Uint8Array {
    const p = this.leasePrefix.length;
    const out = new Uint8Array(p + 8);
    out.set(this.leasePrefix, 0);
    writeU64(out, p, id);
    return out;
  }

  leaseId(key: Uint8Array): number | undefined {
    const p = this.leasePrefix.length;
    if (key.length !== p + 8 || !startsWith(key, this.leasePrefix)) return undefined;
    return readU64(key, p);
  }

  leaseStart(): Uint8Array {
    return this.leasePrefix;
  }

  leaseEnd(): Uint8Array {
    return this.withPrefix(0x6d);
  }

  /** Bounds of every key the store owns (for wiping and snapshots). */
  allStart(): Uint8Array {
    return this.withPrefix(0x6c);
  }

  allEnd(): Uint8Array {
    return this.withPrefix(0x73);
  }

  /** `key` with the prefix removed (for snapshot images, which are prefix-free). */
  strip(key: Uint8Array): Uint8Array {
    return key.subarray(this.prefix.length);
  }

  /** `tail` with the prefix added. */
  add(tail: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.prefix.length + tail.length);
    out.set(this.prefix, 0);
    out.set(tail, this.prefix.length);
    return out;
  }

  private withPrefix(byte: number): Uint8Array {
    const out = new Uint8Array(this.prefix.length + 1);
    out.set(this.prefix, 0);
    out[this.prefix.length] = byte;
    return out;
  }
}

/** Names of the meta entries. */
export type MetaName = 'ci' | 'rev' | 'cr' | 'cf' | 'rs' | 'mb';

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/**
 * One revision record. A put holds the full key state; a tombstone only the key. `modRevision`
 * is the record's main revision and is not stored (it is in the storage key).
 */
export type StoredRecord =
  | {
      readonly tombstone: false;
      readonly key: Uint8Array;
      readonly value: Uint8Array;
      readonly createRevision: number;
      readonly version: number;
      readonly lease: number;
    }
  | { readonly tombstone: true; readonly key: Uint8Array };

/**
 * A record's bytes, written by hand (every put writes one; MessagePack cost more than the rest of
 * the encoding). Big-endian; no compatibility with records of an earlier layout (pre-release):
 *
 * ```
 * put       = 0x01 createRevision:f64 version:f64 lease:f64 keyLen:u32 key value   (value: the rest)
 * tombstone = 0x02 key                                                            (key: the rest)
 * ```
 */
const RECORD_PUT = 0x01;
const RECORD_TOMBSTONE = 0x02;
/** Bytes of a put record without key and value. */
const RECORD_PUT_FIXED = 1 + 8 + 8 + 8 + 4;

/** Encodes a record in the layout above. */
export function encodeRecord(r: StoredRecord): Uint8Array {
  // Buffer.allocUnsafe takes small buffers from Node's pool: cheaper than a Uint8Array of its own.
  if (r.tombstone) {
    const out = Buffer.allocUnsafe(1 + r.key.length);
    out[0] = RECORD_TOMBSTONE;
    out.set(r.key, 1);
    return out;
  }
  const out = Buffer.allocUnsafe(RECORD_PUT_FIXED + r.key.length + r.value.length);
  out[0] = RECORD_PUT;
  out.writeDoubleBE(r.createRevision, 1);
  out.writeDoubleBE(r.version, 9);
  out.writeDoubleBE(r.lease, 17);
  out.writeUInt32BE(r.key.length, 25);
  out.set(r.key, RECORD_PUT_FIXED);
  out.set(r.value, RECORD_PUT_FIXED + r.key.length);
  return out;
}

/**
 * A put's record and its bytes in the layout above: the record's key and value are views of the
 * bytes, which hold copies of the caller's arrays (a decoded command's key and value are views of
 * its raft entry, and `slice()` of a Buffer copies nothing), so the record the key index holds
 * keeps no raft entry alive and shares its one copy of key and value with what Storage writes.
 */
export function encodePutRecord(
  key: Uint8Array,
  value: Uint8Array,
  createRevision: number,
  version: number,
  lease: number,
): { readonly record: StoredRecord; readonly bytes: Uint8Array } {
  const record: StoredRecord = { tombstone: false, key, value, createRevision, version, lease };
  const bytes = encodeRecord(record);
  const at = bytes.byteOffset + RECORD_PUT_FIXED;
  return {
    record: {
      tombstone: false,
      key: new Uint8Array(bytes.buffer, at, key.length),
      value: new Uint8Array(bytes.buffer, at + key.length, value.length),
      createRevision,
      version,
      lease,
    },
    bytes,
  };
}

/**
 * Decodes a record written by {@link encodeRecord}; key and value are views of `bytes`.
 *
 * @throws CairnError `DECODE_FAILED` when the bytes are not a record (a corrupt store)
 */
export function decodeRecord(bytes: Uint8Array): StoredRecord {
  if (bytes.length >= 1 && bytes[0] === RECORD_TOMBSTONE) return { tombstone: true, key: bytes.subarray(1) };
  if (bytes.length >= RECORD_PUT_FIXED && bytes[0] === RECORD_PUT) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const createRevision = view.getFloat64(1);
    const version = view.getFloat64(9);
    const lease = view.getFloat64(17);
    const keyLen = view.getUint32(25);
    if (
      isUint(createRevision) &&
      isUint(version) &&
      isUint(lease) &&
      keyLen <= bytes.length - RECORD_PUT_FIXED
    ) {
      const key = bytes.subarray(RECORD_PUT_FIXED, RECORD_PUT_FIXED + keyLen);
      const value = bytes.subarray(RECORD_PUT_FIXED + keyLen);
      return { tombstone: false, key, value, createRevision, version, lease };
    }
  }
  throw new CairnError('DECODE_FAILED', 'a revision record of the MVCC store is malformed');
}

function isUint(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** The client view of a put record at `modRevision`. */
export function recordToKv(r: StoredRecord, modRevision: number): KeyValue {
  if (r.tombstone) {
    return { key: r.key, value: new Uint8Array(0), createRevision: 0, modRevision, version: 0, lease: 0 };
  }
  return {
    key: r.key,
    value: r.value,
    createRevision: r.createRevision,
    modRevision,
    version: r.version,
    lease: r.lease,
  };
}

/** Encodes a number meta value. */
export function encodeNumber(n: number): Uint8Array {
  const out = new Uint8Array(8);
  writeU64(out, 0, n);
  return out;
}

/** Decodes a number meta value (8 bytes big-endian). */
export function decodeNumber(bytes: Uint8Array | undefined, what: string): number {
  if (bytes === undefined) return 0;
  if (bytes.length !== 8) throw new CairnError('DECODE_FAILED', `the MVCC store's ${what} is malformed`);
  return readU64(bytes, 0);
}

/** A lease as stored: granted TTL and checkpointed remaining TTL (0: none), in seconds. */
export interface StoredLease {
  readonly ttl: number;
  readonly remainingTtl: number;
}

export function encodeLease(l: StoredLease): Uint8Array {
  return encode([l.ttl, l.remainingTtl]);
}

export function decodeLease(bytes: Uint8Array): StoredLease {
  const v = decodeUnchecked(bytes);
  if (Array.isArray(v) && v.length === 2 && isUint(v[0]) && isUint(v[1])) {
    return { ttl: v[0], remainingTtl: v[1] };
  }
  throw new CairnError('DECODE_FAILED', 'a lease record of the MVCC store is malformed');
}

/** A byte string as a latin1 string: one character per byte, ordered as the bytes. */
export function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

/** The bytes of a latin1 key string. */
export function keyBytes(k: string): Uint8Array {
  return new Uint8Array(Buffer.from(k, 'latin1'));
}

/** etcd's range: `end` undefined = the single key; `null` = every key >= `key`; else [key, end). */
export type RangeEnd = Uint8Array | null | undefined;

/** Interprets a request's `rangeEnd` as etcd does (absent or empty: single key; `\0`: from key). */
export function toRangeEnd(rangeEnd: Uint8Array | undefined): RangeEnd {
  if (rangeEnd === undefined || rangeEnd.length === 0) return undefined;
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return null;
  return rangeEnd;
}

/** True when `key` lies in the etcd range starting at `start`. */
export function inEtcdRange(key: Uint8Array, start: Uint8Array, end: RangeEnd): boolean {
  if (end === undefined) return compareBytes(key, start) === 0;
  if (compareBytes(key, start) < 0) return false;
  return end === null || compareBytes(key, end) < 0;
}
