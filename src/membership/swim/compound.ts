import {
  encode,
  MSGPACK_ARRAY,
  MSGPACK_BIN,
  msgpackHeaderBytes,
  tryDecode,
  v,
  writeMsgpackHeader,
} from '../../core/index.js';
import { DEFAULT_LIMITS, type SwimLimits } from './limits.js';
import type { SwimResult } from './messages.js';

/**
 * Compound packets: several encoded messages in one datagram.
 *
 * Format: a MessagePack array of `bin` parts, each part one encoded {@link SwimMessage}. The
 * size of a compound is exactly computable from its parts' lengths ({@link compoundSize}), so the
 * core fills packets to the MTU without encoding them first, and a part encoded once (a
 * broadcast) is sent many times without re-encoding.
 */

/** Bytes of the MessagePack header of a `bin` of `length` bytes. */
export function binHeaderBytes(length: number): number {
  return msgpackHeaderBytes(MSGPACK_BIN, length);
}

/** Bytes of the MessagePack header of an array of `count` items. */
export function arrayHeaderBytes(count: number): number {
  return msgpackHeaderBytes(MSGPACK_ARRAY, count);
}

/** Bytes one part of `length` bytes adds to a compound (its `bin` header and body). */
export function partCost(length: number): number {
  return binHeaderBytes(length) + length;
}

/** Exact encoded size of a compound of `parts`. */
export function compoundSize(parts: readonly Uint8Array[]): number {
  let total = arrayHeaderBytes(parts.length);
  for (const part of parts) total += partCost(part.length);
  return total;
}

/** Encodes a compound packet; its length equals {@link compoundSize} of the parts. */
export function encodeCompound(parts: readonly Uint8Array[]): Uint8Array {
  return encode(parts);
}

/** The array {@link writeCompound} writes into; grown when a compound does not fit. */
let scratch = new Uint8Array(2048);

/**
 * Writes a compound packet of `parts` into a scratch array of the process and returns the view of
 * it: the bytes of {@link encodeCompound}, valid until the next call. For sending at once
 * (`Transport.sendPacket` keeps nothing of its argument): every packet a node sends used to be one
 * more ArrayBuffer from the codec, and at thousands of simulated nodes the collector's answer to
 * that allocation (see core's loan.ts) was most of the run.
 */
export function writeCompound(parts: readonly Uint8Array[]): Uint8Array {
  const size = compoundSize(parts);
  if (size > scratch.length) scratch = new Uint8Array(Math.max(size, 2 * scratch.length));
  const out = scratch;
  let at = writeMsgpackHeader(MSGPACK_ARRAY, parts.length, out, 0);
  for (const part of parts) {
    at = writeMsgpackHeader(MSGPACK_BIN, part.length, out, at);
    out.set(part, at);
    at += part.length;
  }
  return out.subarray(0, at);
}

/**
 * Decodes a compound packet into its parts (each still to be decoded with `decodeSwimMessage`).
 * Never throws.
 *
 * @param limits - bounds on part count and size (default {@link DEFAULT_LIMITS})
 */
export function decodeCompound(
  bytes: Uint8Array,
  limits: SwimLimits = DEFAULT_LIMITS,
): SwimResult<Uint8Array[]> {
  if (bytes.length > limits.maxMtu) return { ok: false, reason: 'too-large' };
  const parts = tryDecode(
    bytes,
    v.array(v.bytes({ maxLength: limits.maxPartBytes }), { maxLength: limits.maxPartsPerPacket }),
    limits.maxMtu,
  );
  return parts === undefined ? { ok: false, reason: 'malformed' } : { ok: true, value: parts };
}

/**
 * A compound under construction: tracks its exact size so callers add parts only while they fit.
 */
export class CompoundBuilder {
  /** The parts so far, in order. */
  readonly parts: Uint8Array[] = [];
  private bodyBytes = 0;

  /**
   * @param mtu - the largest compound allowed, in bytes
   * @param maxParts - the most parts allowed
   */
  constructor(
    readonly mtu: number,
    readonly maxParts: number,
  ) {}

  /** Current exact encoded size. */
  get size(): number {
    return arrayHeaderBytes(this.parts.length) + this.bodyBytes;
  }

  /** True when a part of `length` bytes can be added without passing the MTU or part limit. */
  fits(length: number): boolean {
    if (this.parts.length >= this.maxParts) return false;
    return arrayHeaderBytes(this.parts.length + 1) + this.bodyBytes + partCost(length) <= this.mtu;
  }

  /** Adds `part` if it fits; returns whether it was added. */
  add(part: Uint8Array): boolean {
    if (!this.fits(part.length)) return false;
    this.parts.push(part);
    this.bodyBytes += partCost(part.length);
    return true;
  }

  /** True when no further part of any size fits. */
  get full(): boolean {
    return !this.fits(0);
  }
}
