import { CairnError } from './errors.js';

/**
 * Recyclable byte arrays: memory for data that is handed on once and then dead (a frame or a packet
 * in a simulated network).
 *
 * Why: V8 starts a collection of the whole heap for every 64 MB of ArrayBuffer memory allocated
 * since the last one ("external memory pressure"), however little of it is still alive. In a
 * simulation of thousands of nodes every packet and frame was a fresh ArrayBuffer, and each of
 * those collections marked a heap of gigabytes: at 10,000 nodes they were most of the run. Arrays
 * that come back here are handed out again, so a steady flow of frames allocates nothing.
 *
 * Rules:
 * - {@link takeBytes} hands out an array of exactly the length asked for; its contents are
 *   undefined (whatever the last user left, or the poison byte): write every byte.
 * - The holder of an array may hand it on (send it once); after that it neither reads nor writes it.
 * - Whoever uses it last gives it back with {@link recycleBytes}, and only when nothing can still
 *   read it: the simulated network does so after the receiver's handler returned, which is why
 *   packet and frame handlers must copy what they keep (see `Transport`).
 * - Recycling fills the array's bytes with {@link POISON_BYTE} first: a view kept by mistake then reads
 *   bytes that no validating decoder accepts, so the mistake shows as a failed decode or a wrong
 *   value in tests rather than as data that quietly changes later.
 * - Arrays not from {@link takeBytes}, and views that do not start at the start of one, are left
 *   alone (`recycleBytes` returns false): callers may pass any array.
 */

/**
 * The byte a recycled array is filled with: 0xc1, the one code MessagePack leaves unused.
 * `msgpackValueEnd` and the codec's shape check before decoding reject it.
 */
export const POISON_BYTE = 0xc1;

/** The smallest class: 2^7 = 128 bytes. */
const MIN_SHIFT = 7;
/** The largest class: 2^23 = 8 MiB; longer arrays are plain, never recycled. */
const MAX_SHIFT = 23;
/** Free bytes kept per class; arrays given back beyond it are left to the collector. */
const MAX_FREE_BYTES_PER_CLASS = 64 * 1024 * 1024;

/** Per ArrayBuffer of the pool: true while lent out, false while free. */
const lent = new WeakMap<ArrayBuffer, boolean>();
/** Free buffers by class (index = shift). */
const free: ArrayBuffer[][] = Array.from({ length: MAX_SHIFT + 1 }, () => []);

/** Counters of the pool, for tests and benchmarks. */
export const loanStats = {
  /** Buffers allocated by the pool. */
  allocated: 0,
  /** Bytes of the buffers allocated by the pool. */
  allocatedBytes: 0,
  /** Arrays handed out again from a free list. */
  reused: 0,
  /** Arrays given back. */
  recycled: 0,
};

/** The class (a power-of-two shift) of `length`, or -1 above the largest. */
function classOf(length: number): number {
  if (length <= 1 << MIN_SHIFT) return MIN_SHIFT;
  const shift = 32 - Math.clz32(length - 1);
  return shift > MAX_SHIFT ? -1 : shift;
}

/** An array of `length` bytes that may be given back with {@link recycleBytes} (see the module comment). */
export function takeBytes(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new CairnError('INVALID_ARGUMENT', `takeBytes needs a length >= 0, got ${length}`);
  }
  const shift = classOf(length);
  if (shift < 0) return new Uint8Array(length);
  let buffer = free[shift]!.pop();
  if (buffer === undefined) {
    buffer = new ArrayBuffer(1 << shift);
    loanStats.allocated++;
    loanStats.allocatedBytes += 1 << shift;
  } else {
    loanStats.reused++;
  }
  lent.set(buffer, true);
  return new Uint8Array(buffer, 0, length);
}

/** True while `bytes` is a view into memory lent by {@link takeBytes} (kept: copy it). */
export function isLoaned(bytes: Uint8Array): boolean {
  return lent.get(bytes.buffer as ArrayBuffer) === true;
}

/**
 * Gives back an array from {@link takeBytes} once nothing reads it any more: poisons it and keeps it
 * for reuse. Returns false (and does nothing) for any other array.
 *
 * @throws CairnError `INTERNAL` when the array was given back already (a second owner would
 *   otherwise get memory that is still in use)
 */
export function recycleBytes(bytes: Uint8Array): boolean {
  const buffer = bytes.buffer;
  if (!(buffer instanceof ArrayBuffer) || bytes.byteOffset !== 0) return false;
  const state = lent.get(buffer);
  if (state === undefined) return false;
  if (!state) throw new CairnError('INTERNAL', 'a recyclable byte array was given back twice');
  lent.set(buffer, false);
  // The bytes this user could have written: every byte any user wrote is poisoned by its own give-back.
  bytes.fill(POISON_BYTE);
  loanStats.recycled++;
  const shift = 31 - Math.clz32(buffer.byteLength);
  const list = free[shift]!;
  if ((list.length + 1) * buffer.byteLength <= MAX_FREE_BYTES_PER_CLASS) list.push(buffer);
  return true;
}
