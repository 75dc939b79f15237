import { CairnError, decode, encode, fail } from '../../core/index.js';
import type { ConfState, Entry, HardState, Snapshot } from '../types.js';
import { crc32c } from './crc32c.js';

/**
 * The on-disk records of the segment log and the snapshot file format. Pure: bytes in, values out.
 *
 * A frame is `[u32 LE payload length][u32 LE crc32c][payload]`, the checksum covering the four
 * length bytes and the payload, so a record whose length field rotted fails its checksum too. A
 * payload is one MessagePack map:
 * - a save: `{ h?: [term, vote, commit], i?: firstIndex, e?: [term, type, data, term, ...] }`, the
 *   entries flat (three values each, type 0 normal / 1 conf) with contiguous indexes from `i`;
 * - a snapshot marker: `{ s: [index, term] }`, written after a snapshot file is durable.
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

/** Encodes a save: an optional hard state and contiguous entries. */
export function encodeSave(hardState: HardState | undefined, entries: readonly Entry[]): Uint8Array {
  const out: { h?: number[]; i?: number; e?: unknown[] } = {};
  if (hardState !== undefined) out.h = [hardState.term, hardState.vote, hardState.commit];
  if (entries.length > 0) {
    out.i = entries[0]!.index;
    const flat: unknown[] = new Array(entries.length * 3);
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!;
      flat[3 * k] = e.term;
      flat[3 * k + 1] = e.type === 'conf' ? 1 : 0;
      flat[3 * k + 2] = e.data;
    }
    out.e = flat;
  }
  return encode(out);
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
