import { slabCopy, type Validator, v } from '../../core/index.js';
import { defineMethod } from '../../rpc/index.js';
import type { Cell, Token, TokenRange, Version } from '../types.js';
import { DEFAULT_LIMITS } from './config.js';

/**
 * The replica rpc methods, shared by coordinators (callers) and replicas (handlers).
 *
 * Every request carries the sender's name and hybrid-clock reading (`hlc`); every response carries
 * the responder's reading, so each exchange lets both sides check their clocks against each
 * other. A replica that refuses a request answers with `err` (a KvError code: `CLOCK_SKEW`,
 * `STOPPED`, `INVALID_ARGUMENT`) instead of an rpc error, so that its clock reading still travels.
 *
 * Tokens travel as 8 bytes big-endian (the codec carries safe integers only); cells as
 * `{ w, l, n, v?, x? }`: version wall, logical and node, the value (absent for a tombstone) and the
 * expiry time.
 */

const MAX_TOKEN = (1n << 64n) - 1n;

/**
 * Bytes, copied out of the frame they were decoded from. The codec hands out views into the
 * received frame, and a transport may reuse a frame once its handler returned (the simulator
 * poisons it): keys and values outlive the handler (the store keeps them, a coordinator compares
 * digests across events), so every byte field is copied while the frame is still valid, during
 * validation.
 */
function owned(inner: Validator<Uint8Array>): Validator<Uint8Array> {
  return (value, path = '$') => slabCopy(inner(value, path));
}

/**
 * An array whose items are the validator's results (core's `v.array` checks items but returns the
 * input array, which would drop the copies {@link owned} makes).
 */
function mappedArray<T>(item: Validator<T>, opts: { minLength?: number; maxLength: number }): Validator<T[]> {
  const check = v.array(v.unknown(), opts);
  return (value, path = '$') => check(value, path).map((x, i) => item(x, `${path}[${i}]`));
}
const uint32 = v.uint({ max: 0xffff_ffff });
const wall = v.uint({ max: Number.MAX_SAFE_INTEGER });

/** A token as 8 bytes big-endian. */
export function tokenToWire(t: Token): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, t & MAX_TOKEN);
  return out;
}

/** The token of 8 bytes big-endian. */
export function tokenFromWire(b: Uint8Array): Token {
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
}

const tokenBytes = owned(v.bytes({ minLength: 8, maxLength: 8 }));

/** A version on the wire. */
export interface WireVersion {
  readonly w: number;
  readonly l: number;
  readonly n: number;
}
const wireVersion: Validator<WireVersion> = v.object({ w: wall, l: v.uint({ max: 0xffff }), n: uint32 });

/** A version as sent. */
export function versionToWire(x: Version): WireVersion {
  return { w: x.wall, l: x.logical, n: x.node };
}

/** A received version. */
export function versionFromWire(x: WireVersion): Version {
  return { wall: x.w, logical: x.l, node: x.n };
}

/** A cell on the wire: `v` absent or null for a tombstone. */
export interface WireCell extends WireVersion {
  readonly v?: Uint8Array | null;
  readonly x?: number;
}
const wireCell: Validator<WireCell> = v.object({
  w: wall,
  l: v.uint({ max: 0xffff }),
  n: uint32,
  v: v.optional(v.nullable(owned(v.bytes({ maxLength: DEFAULT_LIMITS.maxValueBytes })))),
  x: v.optional(wall),
});

/** A cell as sent. */
export function cellToWire(c: Cell): WireCell {
  const out: { w: number; l: number; n: number; v?: Uint8Array; x?: number } = {
    w: c.version.wall,
    l: c.version.logical,
    n: c.version.node,
  };
  if (c.value !== undefined) out.v = c.value;
  if (c.expiresAt !== undefined) out.x = c.expiresAt;
  return out;
}

/** A received cell. */
export function cellFromWire(o: WireCell): Cell {
  const version = { wall: o.w, logical: o.l, node: o.n };
  const value = o.v ?? undefined;
  return o.x === undefined ? { version, value } : { version, value, expiresAt: o.x };
}

/** A token range on the wire: `{ s, e }`, 8 bytes big-endian each. */
export interface WireRange {
  readonly s: Uint8Array;
  readonly e: Uint8Array;
}
const wireRange: Validator<WireRange> = v.object({ s: tokenBytes, e: tokenBytes });

/** A range as sent. */
export function rangeToWire(r: TokenRange): WireRange {
  return { s: tokenToWire(r.start), e: tokenToWire(r.end) };
}

/** A received range. */
export function rangeFromWire(r: WireRange): TokenRange {
  return { start: tokenFromWire(r.s), end: tokenFromWire(r.e) };
}

const key = owned(v.bytes({ minLength: 1, maxLength: DEFAULT_LIMITS.maxKeyBytes }));
const from = v.string({ minLength: 1, maxLength: DEFAULT_LIMITS.maxNameLength });
const err = v.optional(v.oneOf(['CLOCK_SKEW', 'STOPPED', 'INVALID_ARGUMENT', 'UNAVAILABLE'] as const));
/** A key and its cell on the wire. */
export interface WireKeyedCell {
  readonly k: Uint8Array;
  readonly c: WireCell;
}
const keyedCell: Validator<WireKeyedCell> = v.object({ k: key, c: wireCell });
/** A key with its cell, as writes, streams and scans carry them. */
export interface KeyedCell {
  readonly key: Uint8Array;
  readonly cell: Cell;
}
/** Keyed cells as sent. */
export function keyedToWire(items: readonly KeyedCell[]): WireKeyedCell[] {
  return items.map((i) => ({ k: i.key, c: cellToWire(i.cell) }));
}

/** Received keyed cells. */
export function keyedFromWire(items: readonly WireKeyedCell[]): KeyedCell[] {
  return items.map((i) => ({ key: i.k, cell: cellFromWire(i.c) }));
}

/** Error codes a replica answers in `err`. */
export type ReplicaRefusal = 'CLOCK_SKEW' | 'STOPPED' | 'INVALID_ARGUMENT' | 'UNAVAILABLE';

/** Why cells are written: a coordinator's write, hint delivery, range streaming or repair. */
export type WriteKind = 'write' | 'hint' | 'stream' | 'repair';

/** Writes cells (LWW-merged); answers once they are stored. */
export const ReplicaWrite = defineMethod(
  'kv.write',
  v.object({
    from,
    hlc: wireVersion,
    kind: v.oneOf(['write', 'hint', 'stream', 'repair'] as const),
    cells: mappedArray(keyedCell, { minLength: 1, maxLength: DEFAULT_LIMITS.maxCellsPerMessage }),
  }),
  v.object({ hlc: wireVersion, err }),
);

/**
 * Writes cells as {@link ReplicaWrite} does, the cells in the binary layout of `cells-wire.ts`
 * (what a coordinator's batched writes and repairs use: one byte string per batch instead of a
 * map per cell). A replica refuses malformed cells with `err: 'INVALID_ARGUMENT'`, as for
 * `kv.write`.
 */
export const ReplicaWriteCells = defineMethod(
  'kv.writeCells',
  v.object({
    from,
    hlc: wireVersion,
    kind: v.oneOf(['write', 'hint', 'stream', 'repair'] as const),
    cells: owned(v.bytes({ minLength: 1, maxLength: DEFAULT_LIMITS.maxWriteCellsBytes })),
  }),
  v.object({ hlc: wireVersion, err }),
);

/** Reads a key's cell, or only its digest. */
export const ReplicaRead = defineMethod(
  'kv.read',
  v.object({ from, hlc: wireVersion, key, digest: v.boolean() }),
  v.object({
    hlc: wireVersion,
    err,
    cell: v.optional(v.nullable(wireCell)),
    digest: v.optional(owned(v.bytes({ maxLength: 64 }))),
  }),
);

/** One key of a {@link ReplicaReadMany}: `d` asks for the digest only. */
export interface WireReadItem {
  readonly k: Uint8Array;
  readonly d: boolean;
}

/** One answer of a {@link ReplicaReadMany}: the cell (null: absent), its digest, or `e`, why it failed. */
export interface WireReadAnswer {
  readonly c?: WireCell | null;
  readonly d?: Uint8Array;
  readonly e?: string;
}

/** Longest per-key error text in a {@link ReplicaReadMany} answer. */
export const MAX_READ_ERROR_CHARS = 256;

/**
 * Reads many keys' cells or digests in one message (the reads a coordinator sends one replica in
 * one batching window); answers one item per key, in order, each on its own (a key that fails to
 * read answers `e`, the others still answer).
 */
export const ReplicaReadMany = defineMethod(
  'kv.readMany',
  v.object({
    from,
    hlc: wireVersion,
    keys: mappedArray(v.object({ k: key, d: v.boolean() }), {
      minLength: 1,
      maxLength: DEFAULT_LIMITS.maxCellsPerMessage,
    }),
  }),
  v.object({
    hlc: wireVersion,
    err,
    answers: mappedArray(
      v.object({
        c: v.optional(v.nullable(wireCell)),
        d: v.optional(owned(v.bytes({ maxLength: 64 }))),
        e: v.optional(v.string({ maxLength: MAX_READ_ERROR_CHARS })),
      }),
      { maxLength: DEFAULT_LIMITS.maxCellsPerMessage },
    ),
  }),
);

/**
 * Reads many keys as {@link ReplicaReadMany} does, the keys and the answers in the binary layout
 * of `read-wire.ts` (what a coordinator's batched reads use: one byte string each way instead of a
 * map per key and per answer). A replica refuses malformed keys with `err: 'INVALID_ARGUMENT'`
 * (and no answers); otherwise it answers one item per key, in order.
 */
export const ReplicaReadCells = defineMethod(
  'kv.readCells',
  v.object({
    from,
    hlc: wireVersion,
    keys: owned(v.bytes({ minLength: 1, maxLength: DEFAULT_LIMITS.maxReadCellsBytes })),
  }),
  v.object({
    hlc: wireVersion,
    err,
    answers: owned(v.bytes({ maxLength: DEFAULT_LIMITS.maxReadCellsBytes })),
  }),
);

/** One page of a token range, tombstones included. */
export const ReplicaScan = defineMethod(
  'kv.scan',
  v.object({
    from,
    hlc: wireVersion,
    range: wireRange,
    after: v.optional(owned(v.bytes({ maxLength: DEFAULT_LIMITS.maxKeyBytes + 64 }))),
    limit: v.uint({ max: DEFAULT_LIMITS.maxScanLimit }),
  }),
  v.object({
    hlc: wireVersion,
    err,
    entries: mappedArray(keyedCell, { maxLength: DEFAULT_LIMITS.maxScanLimit }),
    next: v.optional(owned(v.bytes({ maxLength: DEFAULT_LIMITS.maxKeyBytes + 64 }))),
  }),
);

/** The Merkle tree of a token range. */
export const ReplicaMerkle = defineMethod(
  'kv.merkle',
  v.object({
    from,
    hlc: wireVersion,
    range: wireRange,
    depth: v.uint({ max: DEFAULT_LIMITS.maxMerkleDepth }),
  }),
  v.object({
    hlc: wireVersion,
    err,
    tree: v.optional(owned(v.bytes({ maxLength: DEFAULT_LIMITS.maxMerkleBytes }))),
  }),
);

/** The replica's live-key estimate (for DBSIZE). */
export const ReplicaSize = defineMethod(
  'kv.size',
  v.object({ from, hlc: wireVersion }),
  v.object({ hlc: wireVersion, err, count: v.uint({ max: Number.MAX_SAFE_INTEGER }) }),
);
