import { CairnError, checkLimit, decode, encode, fail } from '../../core/index.js';
import type { ConfState, Entry, HardState, Snapshot } from '../types.js';
import { crc32c } from './crc32c.js';

/**
 * The on-disk records of the segment log and the snapshot file format. Pure: bytes in, values out.
 *
 * A frame is `[u32 LE payload length][u32 LE crc32c][payload]`, the checksum covering the four
 * length bytes and the payload, so a record whose length field rotted fails its checksum too. A
 * payload is:
 * - a save: a binary layout (see {@link encodeSave}): an optional hard state and entries with
 *   contiguous indexes; the earlier MessagePack map `{ h?, i?, e? }` is still read;
 * - a snapshot marker: the MessagePack map `{ s: [index, term] }`, written after a snapshot file
 *   is durable.
 * A snapshot file is one frame whose payload is `{ m: [index, term, voters, learners], d: data }`.
 */

/** Bytes of a frame header. */
export const FRAME_HEADER_BYTES = 8;

/** One decoded log record. */
export type LogRecord =
  | { readonly kind: 'save'; readonly hardState?: HardState; readonly entries: readonly Entry[] }
  | { readonly kind: 'snapshotMarker'; readonly index: number; readonly term: number };

/** Frames `payload` with its length and checksum. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, payload.length, true);
  out.set(payload, FRAME_HEADER_BYTES);
  view.setUint32(4, frameChecksum(out, 0, payload.length), true);
  return out;
}

function frameChecksum(buf: Uint8Array, at: number, length: number): number {
  return crc32c(buf, crc32c(buf, 0, at, at + 4), at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
}

/** What {@link readFrame} finds at an offset. */
export type FrameResult =
  | { readonly ok: true; readonly payload: Uint8Array; readonly end: number }
  /** `short`: the header or payload runs past the end; `zero`: zeros to the end; `checksum`: a mismatch. */
  | { readonly ok: false; readonly reason: 'short' | 'zero' | 'checksum' | 'length'; readonly end: number };

/**
 * Reads the frame at `at` in `buf` (which ends at the file's end).
 *
 * @param maxPayloadBytes - a larger declared length is `length` (or `short`/`zero` if it also runs
 *   past the end), so a rotted header never makes the reader allocate gigabytes
 */
export function readFrame(buf: Uint8Array, at: number, maxPayloadBytes: number): FrameResult {
  const size = buf.length;
  if (allZero(buf, at)) return { ok: false, reason: 'zero', end: size };
  if (size - at < FRAME_HEADER_BYTES) return { ok: false, reason: 'short', end: size };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const length = view.getUint32(at, true);
  const end = at + FRAME_HEADER_BYTES + length;
  if (end > size) return { ok: false, reason: 'short', end: size };
  if (length === 0 || length > maxPayloadBytes) return { ok: false, reason: 'length', end };
  if (view.getUint32(at + 4, true) !== frameChecksum(buf, at, length)) {
    return { ok: false, reason: 'checksum', end };
  }
  return { ok: true, payload: buf.subarray(at + FRAME_HEADER_BYTES, end), end };
}

function allZero(buf: Uint8Array, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * A save's payload, written by hand (one per Ready; MessagePack cost more than the checksum and
 * the write). Big-endian:
 *
 * ```
 * save  = 0x01 flags:u8 [term:f64 vote:f64 commit:f64]   when flags & HARD_STATE
 *         [first:f64 n:u32 entry{n}]                     when flags & ENTRIES
 * entry = term:f64 kind:u8 (0 normal, 1 conf) len:u32 data
 * ```
 *
 * Snapshot markers stay MessagePack maps (first byte 0x81), so the first byte tells them apart.
 * Pre-release: saves of the earlier MessagePack layout are still read, nothing else is promised.
 */
const SAVE_TAG = 0x01;
const HARD_STATE = 1;
const ENTRIES = 2;
const ENTRY_FIXED = 8 + 1 + 4;

/** Encodes a save: an optional hard state and contiguous entries. */
export function encodeSave(hardState: HardState | undefined, entries: readonly Entry[]): Uint8Array {
  let size = 2;
  if (hardState !== undefined) size += 24;
  if (entries.length > 0) {
    size += 12;
    for (let k = 0; k < entries.length; k++) size += ENTRY_FIXED + entries[k]!.data.length;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = SAVE_TAG;
  out[1] = (hardState !== undefined ? HARD_STATE : 0) | (entries.length > 0 ? ENTRIES : 0);
  let p = 2;
  if (hardState !== undefined) {
    view.setFloat64(p, hardState.term);
    view.setFloat64(p + 8, hardState.vote);
    view.setFloat64(p + 16, hardState.commit);
    p += 24;
  }
  if (entries.length > 0) {
    view.setFloat64(p, entries[0]!.index);
    view.setUint32(p + 8, entries.length);
    p += 12;
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!;
      view.setFloat64(p, e.term);
      out[p + 8] = e.type === 'conf' ? 1 : 0;
      view.setUint32(p + 9, e.data.length);
      out.set(e.data, p + ENTRY_FIXED);
      p += ENTRY_FIXED + e.data.length;
    }
  }
  return out;
}

/** Reads a binary save (the layout above); entry data is copied out of `payload`. */
function decodeBinarySave(payload: Uint8Array): LogRecord {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const need = (p: number, n: number, what: string) => {
    if (p + n > payload.length) fail(`$.${what}`, `${n} bytes at offset ${p}`, `${payload.length - p} left`);
  };
  const num = (p: number, what: string) => uint(view.getFloat64(p), `$.${what}`);
  need(0, 2, 'flags');
  const flags = payload[1]!;
  if ((flags & ~(HARD_STATE | ENTRIES)) !== 0) fail('$.flags', 'flag bits 1 and 2 only', flags);
  let p = 2;
  let hardState: HardState | undefined;
  if ((flags & HARD_STATE) !== 0) {
    need(p, 24, 'h');
    hardState = { term: num(p, 'h.term'), vote: num(p + 8, 'h.vote'), commit: num(p + 16, 'h.commit') };
    p += 24;
  }
  const entries: Entry[] = [];
  if ((flags & ENTRIES) !== 0) {
    need(p, 12, 'i');
    const first = num(p, 'i');
    const n = view.getUint32(p + 8);
    p += 12;
    // Each entry takes at least ENTRY_FIXED bytes: a count the payload cannot hold is refused first.
    if (n === 0 || n > (payload.length - p) / ENTRY_FIXED)
      fail('$.n', `1..${Math.floor((payload.length - p) / ENTRY_FIXED)} entries`, n);
    if (!Number.isSafeInteger(first + n)) fail('$.i', 'a first index whose last is a safe integer', first);
    for (let k = 0; k < n; k++) {
      need(p, ENTRY_FIXED, `e[${k}]`);
      const term = num(p, `e[${k}].term`);
      const kind = payload[p + 8]!;
      if (kind !== 0 && kind !== 1) fail(`$.e[${k}].kind`, 'an entry type 0 or 1', kind);
      const len = view.getUint32(p + 9);
      p += ENTRY_FIXED;
      need(p, len, `e[${k}].data`);
      entries.push({
        term,
        index: first + k,
        type: kind === 1 ? 'conf' : 'normal',
        data: payload.slice(p, p + len),
      });
      p += len;
    }
  }
  if (p !== payload.length) fail('$', 'no trailing bytes', `${payload.length - p} trailing bytes`);
  return hardState === undefined ? { kind: 'save', entries } : { kind: 'save', hardState, entries };
}

/** Encodes a snapshot marker. */
export function encodeSnapshotMarker(index: number, term: number): Uint8Array {
  return encode({ s: [index, term] });
}

function uint(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    fail(path, 'an unsigned integer', value);
  return value;
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    fail(path, 'an object', value);
  }
  return value as Record<string, unknown>;
}

function array(value: unknown, path: string, length?: number): unknown[] {
  if (!Array.isArray(value) || (length !== undefined && value.length !== length)) {
    fail(path, length === undefined ? 'an array' : `an array of ${length}`, value);
  }
  return value;
}

/** Validates a decoded record payload. */
export function validateRecord(value: unknown, path = '$'): LogRecord {
  const o = object(value, path);
  if (o.s !== undefined) {
    const s = array(o.s, `${path}.s`, 2);
    return { kind: 'snapshotMarker', index: uint(s[0], `${path}.s[0]`), term: uint(s[1], `${path}.s[1]`) };
  }
  let hardState: HardState | undefined;
  if (o.h !== undefined) {
    const h = array(o.h, `${path}.h`, 3);
    hardState = {
      term: uint(h[0], `${path}.h[0]`),
      vote: uint(h[1], `${path}.h[1]`),
      commit: uint(h[2], `${path}.h[2]`),
    };
  }
  const entries: Entry[] = [];
  if (o.e !== undefined) {
    const first = uint(o.i, `${path}.i`);
    const flat = array(o.e, `${path}.e`);
    if (flat.length % 3 !== 0) fail(`${path}.e`, 'a multiple of 3 values', flat);
    for (let k = 0; k < flat.length; k += 3) {
      const type = flat[k + 1];
      if (type !== 0 && type !== 1) fail(`${path}.e[${k + 1}]`, 'an entry type 0 or 1', type);
      const data = flat[k + 2];
      if (!(data instanceof Uint8Array)) fail(`${path}.e[${k + 2}]`, 'bytes', data);
      entries.push({
        term: uint(flat[k], `${path}.e[${k}]`),
        index: first + k / 3,
        type: type === 1 ? 'conf' : 'normal',
        data,
      });
    }
  }
  return hardState === undefined ? { kind: 'save', entries } : { kind: 'save', hardState, entries };
}

/** Decodes and validates a record payload; throws `DECODE_FAILED` / `LIMIT_EXCEEDED`. */
export function decodeRecord(payload: Uint8Array, maxBytes: number): LogRecord {
  if (payload.length > 0 && payload[0] === SAVE_TAG) {
    checkLimit('maxRecordBytes', payload.length, maxBytes, 'raft log record size');
    return decodeBinarySave(payload);
  }
  return decode(payload, validateRecord, maxBytes);
}

/** Encodes a snapshot file's content (one frame). */
export function encodeSnapshotFile(snapshot: Snapshot): Uint8Array {
  const { index, term, confState } = snapshot.meta;
  return frame(
    encode({ m: [index, term, [...confState.voters], [...confState.learners]], d: snapshot.data }),
  );
}

function nodeIds(value: unknown, path: string): number[] {
  const ids = array(value, path);
  return ids.map((id, k) => uint(id, `${path}[${k}]`));
}

/** Validates a decoded snapshot file payload. */
export function validateSnapshot(value: unknown, path = '$'): Snapshot {
  const o = object(value, path);
  const m = array(o.m, `${path}.m`, 4);
  const data = o.d;
  if (!(data instanceof Uint8Array)) fail(`${path}.d`, 'bytes', data);
  const confState: ConfState = {
    voters: nodeIds(m[2], `${path}.m[2]`),
    learners: nodeIds(m[3], `${path}.m[3]`),
  };
  return { meta: { index: uint(m[0], `${path}.m[0]`), term: uint(m[1], `${path}.m[1]`), confState }, data };
}

/**
 * Decodes a whole snapshot file.
 *
 * @throws CairnError `DECODE_FAILED` when the frame is short, fails its checksum or has trailing bytes
 */
export function decodeSnapshotFile(bytes: Uint8Array, maxBytes: number): Snapshot {
  const f = readFrame(bytes, 0, maxBytes);
  if (!f.ok) throw new CairnError('DECODE_FAILED', `snapshot frame is bad (${f.reason})`);
  if (f.end !== bytes.length)
    throw new CairnError('DECODE_FAILED', `snapshot file has ${bytes.length - f.end} trailing bytes`);
  return decode(f.payload, validateSnapshot, maxBytes);
}
