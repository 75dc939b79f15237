import { slabBytes } from '../../core/index.js';
import { KvError } from '../errors.js';
import type { Cell } from '../types.js';
import { cellBytes, putCell, WireReader } from './cells-wire.js';

/**
 * The keys of a batched read and their answers in one hand-written binary layout, as
 * `kv.readCells` carries them: one byte string each way instead of a MessagePack map per key and
 * per answer. Big-endian, items concatenated (no count: the bytes end after the last item).
 *
 * Keys, per key: flags (u8: 1 = the digest only; other bits refused), key length (u32,
 * 1..maxKeyBytes), the key. At least one key.
 *
 * Answers, per answer, a tag (u8) and its body:
 * - 0: the key is absent (no body);
 * - 1: its cell, as `cells-wire.ts` writes a cell after its key (version, flags, expiry, value);
 * - 2: its digest: length (u8, at most {@link MAX_DIGEST_BYTES}), the digest;
 * - 3: why it failed to read: length (u16, at most {@link MAX_ERROR_BYTES}), UTF-8 text.
 * Other tags are refused. An empty answer list is valid (a refused request answers none).
 */

/** One key of a batched read. */
export interface ReadKey {
  readonly key: Uint8Array;
  /** Only the digest of its cell is wanted. */
  readonly digest: boolean;
}

/** One answer of a batched read: the cell (undefined: absent), its digest, or why it failed. */
export type ReadWireAnswer =
  | { readonly cell: Cell | undefined }
  | { readonly digest: Uint8Array }
  | { readonly error: string };

/** Bounds a decode enforces. */
export interface ReadWireLimits {
  /** Keys in a request, answers in a reply. */
  readonly maxItems: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
}

/** Longest digest: a SHA-512 would fit; SHA-256 is 32 bytes. */
export const MAX_DIGEST_BYTES = 64;
/** Longest error text, in UTF-8 bytes (256 UTF-16 units of up to 3 bytes each). */
export const MAX_ERROR_BYTES = 768;

const DIGEST_ONLY = 1;
const ABSENT = 0;
const CELL = 1;
const DIGEST = 2;
const ERROR = 3;

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** The encoded form of `keys`. */
export function encodeReadKeys(keys: readonly ReadKey[]): Uint8Array {
  let size = 0;
  for (const k of keys) size += 5 + k.key.length;
  const out = slabBytes(size); // every byte written below
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let at = 0;
  for (const k of keys) {
    out[at] = k.digest ? DIGEST_ONLY : 0;
    view.setUint32(at + 1, k.key.length);
    out.set(k.key, at + 5);
    at += 5 + k.key.length;
  }
  return out;
}

/**
 * The keys of `bytes`, validated whole; keys are views into `bytes` (the caller passes bytes it
 * owns).
 *
 * @throws KvError `INVALID_ARGUMENT` for anything malformed: truncated bytes, no key, more than
 *   `maxItems`, an empty or oversized key, unknown flags. Never throws anything else.
 */
export function decodeReadKeys(bytes: Uint8Array, limits: ReadWireLimits): ReadKey[] {
  const r = new WireReader(bytes, 'key');
  const out: ReadKey[] = [];
  if (r.end === 0) throw new KvError('INVALID_ARGUMENT', 'malformed: no key');
  while (r.at < r.end) {
    r.item = out.length;
    if (out.length >= limits.maxItems) throw r.bad(`more than ${limits.maxItems} keys`);
    const flags = r.u8('flags');
    if ((flags & ~DIGEST_ONLY) !== 0) throw r.bad(`unknown flags ${flags}`);
    const length = r.u32('key length');
    if (length === 0 || length > limits.maxKeyBytes)
      throw r.bad(`key of ${length} bytes (1..${limits.maxKeyBytes})`);
    out.push({ key: r.take(length, 'key'), digest: flags === DIGEST_ONLY });
  }
  return out;
}

/**
 * The encoded form of `answers`. Digests longer than {@link MAX_DIGEST_BYTES} and error texts
 * longer than {@link MAX_ERROR_BYTES} are the caller's bug: they throw RangeError.
 */
export function encodeReadAnswers(answers: readonly ReadWireAnswer[]): Uint8Array {
  const errors: (Uint8Array | undefined)[] = [];
  let size = 0;
  for (const a of answers) {
    let error: Uint8Array | undefined;
    if ('cell' in a) size += 1 + (a.cell === undefined ? 0 : cellBytes(a.cell));
    else if ('digest' in a) {
      if (a.digest.length > MAX_DIGEST_BYTES) throw new RangeError(`digest of ${a.digest.length} bytes`);
      size += 2 + a.digest.length;
    } else {
      error = utf8.encode(a.error);
      if (error.length > MAX_ERROR_BYTES) throw new RangeError(`error text of ${error.length} bytes`);
      size += 3 + error.length;
    }
    errors.push(error);
  }
  const out = slabBytes(size); // every byte written below
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let at = 0;
  for (let i = 0; i < answers.length; i++) {
    const a = answers[i]!;
    if ('cell' in a) {
      if (a.cell === undefined) out[at++] = ABSENT;
      else {
        out[at] = CELL;
        at = putCell(out, view, at + 1, a.cell);
      }
    } else if ('digest' in a) {
      out[at] = DIGEST;
      out[at + 1] = a.digest.length;
      out.set(a.digest, at + 2);
      at += 2 + a.digest.length;
    } else {
      const error = errors[i]!;
      out[at] = ERROR;
      view.setUint16(at + 1, error.length);
      out.set(error, at + 3);
      at += 3 + error.length;
    }
  }
  return out;
}

/**
 * The answers of `bytes`, validated whole; values and digests are views into `bytes` (the caller
 * passes bytes it owns).
 *
 * @throws KvError `INVALID_ARGUMENT` for anything malformed: truncated bytes, more than
 *   `maxItems`, an unknown tag, an oversized value, digest or error text, a wall or expiry past
 *   2^53 - 1, unknown cell flags. Never throws anything else.
 */
export function decodeReadAnswers(bytes: Uint8Array, limits: ReadWireLimits): ReadWireAnswer[] {
  const r = new WireReader(bytes, 'answer');
  const out: ReadWireAnswer[] = [];
  while (r.at < r.end) {
    r.item = out.length;
    if (out.length >= limits.maxItems) throw r.bad(`more than ${limits.maxItems} answers`);
    const tag = r.u8('tag');
    if (tag === ABSENT) out.push({ cell: undefined });
    else if (tag === CELL) out.push({ cell: r.cell(limits.maxValueBytes) });
    else if (tag === DIGEST) {
      const length = r.u8('digest length');
      if (length > MAX_DIGEST_BYTES) throw r.bad(`digest of ${length} bytes (at most ${MAX_DIGEST_BYTES})`);
      out.push({ digest: r.take(length, 'digest') });
    } else if (tag === ERROR) {
      r.need(2, 'error length');
      const length = r.view.getUint16(r.at);
      r.at += 2;
      if (length > MAX_ERROR_BYTES) throw r.bad(`error text of ${length} bytes (at most ${MAX_ERROR_BYTES})`);
      out.push({ error: text.decode(r.take(length, 'error text')) });
    } else throw r.bad(`unknown tag ${tag}`);
  }
  return out;
}
