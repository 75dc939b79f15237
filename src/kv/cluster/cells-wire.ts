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
/** Bytes of a cell besides its key and value: lengths, version, flags, expiry. */
const FIXED_BYTES = 4 + 8 + 2 + 4 + 1 + 8 + 4;
const TWO_32 = 2 ** 32;

/** Bounds a decode enforces. */
export interface CellsWireLimits {
  readonly maxCells: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
}

/** The encoded form of `cells` (see the module comment). */
export function encodeCells(cells: readonly KeyedCell[]): Uint8Array {
  let size = 0;
  for (const { key, cell } of cells) size += FIXED_BYTES + key.length + (cell.value?.length ?? 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const { key, cell } of cells) {
    view.setUint32(at, key.length);
    out.set(key, at + 4);
    at += 4 + key.length;
    const { wall, logical, node } = cell.version;
    view.setUint32(at, Math.floor(wall / TWO_32));
    view.setUint32(at + 4, wall % TWO_32);
    view.setUint16(at + 8, logical);
    view.setUint32(at + 10, node);
    const flags =
      (cell.value !== undefined ? HAS_VALUE : 0) | (cell.expiresAt !== undefined ? HAS_EXPIRY : 0);
    out[at + 14] = flags;
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
  }
  return out.subarray(0, at);
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
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  const out: KeyedCell[] = [];
  let at = 0;
  const need = (n: number, what: string): void => {
    if (end - at < n) throw bad(`cell ${out.length}: truncated ${what}`);
  };
  const safe = (what: string): number => {
    const high = view.getUint32(at);
    if (high >= 2 ** 21) throw bad(`cell ${out.length}: ${what} past 2^53 - 1`);
    const n = high * TWO_32 + view.getUint32(at + 4);
    at += 8;
    return n;
  };
  if (end === 0) throw bad('no cell');
  while (at < end) {
    if (out.length >= limits.maxCells) throw bad(`more than ${limits.maxCells} cells`);
    need(4, 'key length');
    const keyLength = view.getUint32(at);
    if (keyLength === 0 || keyLength > limits.maxKeyBytes)
      throw bad(`cell ${out.length}: key of ${keyLength} bytes (1..${limits.maxKeyBytes})`);
    at += 4;
    need(keyLength + 15, 'key or version');
    const key = bytes.subarray(at, at + keyLength);
    at += keyLength;
    const wall = safe('version wall');
    const logical = view.getUint16(at);
    const node = view.getUint32(at + 2);
    const flags = bytes[at + 6]!;
    at += 7;
    if ((flags & ~(HAS_VALUE | HAS_EXPIRY)) !== 0) throw bad(`cell ${out.length}: unknown flags ${flags}`);
    let expiresAt: number | undefined;
    if ((flags & HAS_EXPIRY) !== 0) {
      need(8, 'expiry');
      expiresAt = safe('expiry');
    }
    let value: Uint8Array | undefined;
    if ((flags & HAS_VALUE) !== 0) {
      need(4, 'value length');
      const valueLength = view.getUint32(at);
      if (valueLength > limits.maxValueBytes)
        throw bad(`cell ${out.length}: value of ${valueLength} bytes (at most ${limits.maxValueBytes})`);
      at += 4;
      need(valueLength, 'value');
      value = bytes.subarray(at, at + valueLength);
      at += valueLength;
    }
    const version = { wall, logical, node };
    const cell: Cell = expiresAt === undefined ? { version, value } : { version, value, expiresAt };
    out.push({ key, cell });
  }
  return out;
}

function bad(what: string): KvError {
  return new KvError('INVALID_ARGUMENT', `malformed cells: ${what}`);
}
