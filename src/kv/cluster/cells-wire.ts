import { slabBytes } from '../../core/index.js';
import { KvError } from '../errors.js';
import type { Cell } from '../types.js';
import type { KeyedCell } from './protocol.js';

/**
 * Keyed cells in one hand-written binary layout, as `kv.writeCells` carries a coordinator's
 * batched writes: one byte string instead of a MessagePack map per cell and per version, so a
 * batch costs one encode and one validated walk rather than an object tree each way.
 *
 * Layout, per cell, big-endian, concatenated (no count: the bytes end after the last cell):
 * - key length (u32, 1..maxKeyBytes), the key;
 * - version: wall (u32 high, u32 low; at most 2^53 - 1), logical (u16), node (u32);
 * - flags (u8): 1 = a value follows (else a tombstone), 2 = an expiry follows; other bits refused;
 * - expiry when flagged (u32 high, u32 low; at most 2^53 - 1);
 * - value when flagged: length (u32, at most maxValueBytes), the value.
 */

const HAS_VALUE = 1;
const HAS_EXPIRY = 2;
const TWO_32 = 2 ** 32;

/** Bounds a decode enforces. */
export interface CellsWireLimits {
  readonly maxCells: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
}

/** Encoded bytes of a cell without its key: version, flags, expiry and value. */
export function cellBytes(cell: Cell): number {
  return 15 + (cell.expiresAt === undefined ? 0 : 8) + (cell.value === undefined ? 0 : 4 + cell.value.length);
}

/** Writes `cell` (without its key) at `at` of `out`; returns the offset after it. */
export function putCell(out: Uint8Array, view: DataView, at: number, cell: Cell): number {
  const { wall, logical, node } = cell.version;
  view.setUint32(at, Math.floor(wall / TWO_32));
  view.setUint32(at + 4, wall % TWO_32);
  view.setUint16(at + 8, logical);
  view.setUint32(at + 10, node);
  out[at + 14] = (cell.value !== undefined ? HAS_VALUE : 0) | (cell.expiresAt !== undefined ? HAS_EXPIRY : 0);
  at += 15;
  if (cell.expiresAt !== undefined) {
    view.setUint32(at, Math.floor(cell.expiresAt / TWO_32));
    view.setUint32(at + 4, cell.expiresAt % TWO_32);
    at += 8;
  }
  if (cell.value !== undefined) {
    view.setUint32(at, cell.value.length);
    out.set(cell.value, at + 4);
    at += 4 + cell.value.length;
  }
  return at;
}

/** The encoded form of `cells` (see the module comment). */
export function encodeCells(cells: readonly KeyedCell[]): Uint8Array {
  let size = 0;
  for (const { key, cell } of cells) size += 4 + key.length + cellBytes(cell);
  const out = slabBytes(size); // every byte written below
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let at = 0;
  for (const { key, cell } of cells) {
    view.setUint32(at, key.length);
    out.set(key, at + 4);
    at = putCell(out, view, at + 4 + key.length, cell);
  }
  return out;
}

/**
 * A position in bytes being decoded, shared by this layout and `read-wire.ts`. Every read checks
 * the bytes left first and throws `INVALID_ARGUMENT` (naming `what` and the item) when short.
 */
export class WireReader {
  at = 0;
  /** Index of the item being read, for error texts. */
  item = 0;
  readonly view: DataView;
  readonly end: number;

  constructor(
    readonly bytes: Uint8Array,
    private readonly noun: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.end = bytes.length;
  }

  /** An error about the current item. */
  bad(what: string): KvError {
    return bad(`${this.noun} ${this.item}: ${what}`);
  }

  need(n: number, what: string): void {
    if (this.end - this.at < n) throw this.bad(`truncated ${what}`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.at++]!;
  }

  u32(what: string): number {
    this.need(4, what);
    const n = this.view.getUint32(this.at);
    this.at += 4;
    return n;
  }

  /** `n` bytes as a view into the input. */
  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** A u64 that must be at most 2^53 - 1. */
  safe(what: string): number {
    this.need(8, what);
    const high = this.view.getUint32(this.at);
    if (high >= 2 ** 21) throw this.bad(`${what} past 2^53 - 1`);
    const n = high * TWO_32 + this.view.getUint32(this.at + 4);
    this.at += 8;
    return n;
  }

  /** A cell as {@link putCell} writes it. */
  cell(maxValueBytes: number): Cell {
    const wall = this.safe('version wall');
    this.need(7, 'version');
    const logical = this.view.getUint16(this.at);
    const node = this.view.getUint32(this.at + 2);
    const flags = this.bytes[this.at + 6]!;
    this.at += 7;
    if ((flags & ~(HAS_VALUE | HAS_EXPIRY)) !== 0) throw this.bad(`unknown flags ${flags}`);
    const expiresAt = (flags & HAS_EXPIRY) !== 0 ? this.safe('expiry') : undefined;
    let value: Uint8Array | undefined;
    if ((flags & HAS_VALUE) !== 0) {
      const valueLength = this.u32('value length');
      if (valueLength > maxValueBytes)
        throw this.bad(`value of ${valueLength} bytes (at most ${maxValueBytes})`);
      value = this.take(valueLength, 'value');
    }
    const version = { wall, logical, node };
    return expiresAt === undefined ? { version, value } : { version, value, expiresAt };
  }
}

/**
 * The cells of `bytes`, validated whole: keys and values are views into `bytes` (the caller passes
 * bytes it owns, already copied out of the frame).
 *
 * @throws KvError `INVALID_ARGUMENT` for anything malformed: truncated or trailing bytes, no cell,
 *   more than `maxCells`, an empty or oversized key or value, a wall or expiry past 2^53 - 1,
 *   unknown flags. Never throws anything else.
 */
export function decodeCells(bytes: Uint8Array, limits: CellsWireLimits): KeyedCell[] {
  const r = new WireReader(bytes, 'cell');
  const out: KeyedCell[] = [];
  if (r.end === 0) throw bad('no cell');
  while (r.at < r.end) {
    r.item = out.length;
    if (out.length >= limits.maxCells) throw bad(`more than ${limits.maxCells} cells`);
    const keyLength = r.u32('key length');
    if (keyLength === 0 || keyLength > limits.maxKeyBytes)
      throw r.bad(`key of ${keyLength} bytes (1..${limits.maxKeyBytes})`);
    const key = r.take(keyLength, 'key');
    out.push({ key, cell: r.cell(limits.maxValueBytes) });
  }
  return out;
}

function bad(what: string): KvError {
  return new KvError('INVALID_ARGUMENT', `malformed: ${what}`);
}
